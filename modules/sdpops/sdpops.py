"""sdpops: Kamailio's functions for SDP bodies, with its return codes and the SDP it writes."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kampy.api import (L_DBG, L_ERR, CoreAPI, MessageContext, Module, PVar, avp_add, avp_param_name, log_at,
                       module_logger)

from . import lumps
from .sdpview import (SdpView, Stream, codec_in_str, codec_position, find_sdp_line, find_token, ids_list,
                      locate_line, message_view)

log = module_logger("sdpops")

_ATTRS = ("a=rtpmap:", "a=fmtp:", "a=rtcp-fb:")
_PV_NAMES = ("body", "sess_version")
_PARSED = "sdpops.parsed"  # the message whose SDP an sdpops function or $sdp(...) parsed


class Accessor:
    __slots__ = ("get", "set")

    def __init__(self, get: Callable[[MessageContext], Any],
                 set: Callable[[MessageContext, Any], None]) -> None:
        self.get = get
        self.set = set


class SdpopsModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)

    # ------------------------------------------------------------------ reading the SDP

    def _view(self, ctx: MessageContext) -> tuple[int, SdpView | None]:
        """The SDP as received (what Kamailio's parse_sdp(msg) keeps for the message)."""
        code, view = message_view(ctx.msg)
        if view is not None:
            ctx.local[_PARSED] = ctx.msg
        return code, view

    def _edit_view(self, ctx: MessageContext) -> SdpView | None:
        """The SDP the deletions are offsets into; None (logged) when there is none."""
        code, view = message_view(ctx.msg, lumps.body_lumps(ctx).base)
        if code < 0:
            log.error("Unable to parse sdp")
        if view is not None:
            ctx.local[_PARSED] = ctx.msg
        return view

    @staticmethod
    def _matching(view: SdpView, media: str | None) -> list[Stream]:
        if not media:
            return view.streams
        return [s for s in view.streams if s.media.lower() == media.lower()]

    # ------------------------------------------------------------------ codecs

    def sdp_remove_codecs_by_id(self, ctx: MessageContext, codecs: str, media: str = "") -> int:
        view = self._edit_view(ctx)
        if view is None:
            return -1
        self._remove_ids(ctx, view, codecs, media)
        return 1

    def _remove_ids(self, ctx: MessageContext, view: SdpView, codecs: str, media: str) -> None:
        for stream in self._matching(view, media):
            pos = 0
            while True:
                start, stop, pos = find_token(codecs, pos, len(codecs), ",")
                if stop == start:
                    break
                self._remove_codec(ctx, view, stream, codecs[start:stop])

    def _remove_codec(self, ctx: MessageContext, view: SdpView, stream: Stream, codec: str) -> None:
        at = codec_position(stream.payloads, codec)
        if at >= 0:  # the id and the space before it
            start = stream.payloads_at + at - 1
            lumps.delete(ctx, start, start + len(codec) + 1)
        self._remove_codec_attrs(ctx, view, stream, codec)

    @staticmethod
    def _remove_codec_attrs(ctx: MessageContext, view: SdpView, stream: Stream, codec: str) -> None:
        """sdp_remove_str_codec_id_attrs: the a=rtpmap/fmtp/rtcp-fb lines of the codec."""
        text = view.text
        pos, left = stream.start, stream.end - stream.start
        while left > 5:
            start, end = locate_line(text, pos)
            line = text[start:end]
            if len(line) > 5 and line[0] in "aA":
                for attr in _ATTRS:
                    if (len(line) > len(attr) + len(codec) and line[:len(attr)].lower() == attr
                            and line.startswith(codec, len(attr)) and line[len(attr) + len(codec)] == " "):
                        lumps.delete(ctx, start, end)
            left -= end - pos
            pos = end

    def sdp_remove_codecs_by_name(self, ctx: MessageContext, codecs: str, media: str = "") -> int:
        view = self._edit_view(ctx)
        if view is None:
            return -1
        ids = ids_list(view, codecs)
        if ids is None:
            return -1
        self._remove_ids(ctx, view, ids, media)
        return 1

    def sdp_keep_codecs_by_id(self, ctx: MessageContext, codecs: str, media: str = "") -> int:
        view = self._edit_view(ctx)
        if view is None:
            return -1
        self._keep_ids(ctx, view, codecs, media)
        return 1

    def _keep_ids(self, ctx: MessageContext, view: SdpView, codecs: str, media: str) -> None:
        for stream in self._matching(view, media):
            payloads, pos = stream.payloads, 0
            while True:
                start, stop, pos = find_token(payloads, pos, len(payloads), " ")
                if stop == start:
                    break
                codec = payloads[start:stop]
                if not codec_in_str(codecs, codec, ","):
                    self._remove_codec(ctx, view, stream, codec)

    def sdp_keep_codecs_by_name(self, ctx: MessageContext, codecs: str, media: str = "") -> int:
        view = self._edit_view(ctx)
        if view is None:
            return -1
        ids = ids_list(view, codecs)
        if ids is None:
            return -1
        self._keep_ids(ctx, view, ids, media)
        return 1

    def sdp_with_codecs_by_id(self, ctx: MessageContext, codecs: str) -> int:
        code, view = self._view(ctx)
        if code < 0:
            log.error("Unable to parse sdp")
            return -2
        if view is None:
            return -2
        return self._with_ids(view, codecs)

    @staticmethod
    def _with_ids(view: SdpView, codecs: str) -> int:
        """1: every codec is in every stream; 2: some are; -1: none (sdp_with_codecs_by_id's
        foundone + notfound, less one when nothing was found)."""
        found = missing = 0
        for stream in view.streams:
            pos = 0
            while True:
                start, stop, pos = find_token(codecs, pos, len(codecs), ",")
                if stop == start:
                    break
                if codec_in_str(stream.payloads, codecs[start:stop], " "):
                    found = 1
                else:
                    missing = 1
        return found + missing if found else -1

    def sdp_with_codecs_by_name(self, ctx: MessageContext, codecs: str) -> int:
        code, view = self._view(ctx)
        if code < 0:
            log.error("Unable to parse sdp")
            return -1
        if view is None:
            return -1
        ids = ids_list(view, codecs)
        if ids is None:
            return -1
        return self._with_ids(view, ids)

    # ------------------------------------------------------------------ media and transports

    def _any_stream(self, ctx: MessageContext, match: Callable[[Stream], bool]) -> int:
        """1 when a stream matches, -1 when none does or the SDP does not parse."""
        code, view = self._view(ctx)
        if code < 0:
            log.error("Unable to parse sdp")
            return -1
        return 1 if view is not None and any(match(s) for s in view.streams) else -1

    def sdp_with_media(self, ctx: MessageContext, media: str) -> int:
        return self._any_stream(ctx, lambda s: s.media.lower() == media.lower())

    def sdp_with_active_media(self, ctx: MessageContext, media: str) -> int:
        """A stream of the media type that is active: port not 0, direction not inactive."""
        return self._any_stream(ctx, lambda s: s.media.lower() == media.lower() and _atoi(s.port) != 0
                                and s.sendrecv_mode.lower() != "inactive")

    def sdp_with_transport(self, ctx: MessageContext, transport: str) -> int:
        return self._any_stream(ctx, lambda s: s.transport.lower() == transport.lower())

    def sdp_with_transport_like(self, ctx: MessageContext, transport: str) -> int:
        return self._any_stream(ctx, lambda s: bool(transport) and transport in s.transport)

    def sdp_remove_media(self, ctx: MessageContext, media: str) -> int:
        return self._remove_streams(ctx, lambda s: s.media.lower() == media.lower())

    def sdp_remove_transport(self, ctx: MessageContext, transport: str) -> int:
        return self._remove_streams(ctx, lambda s: s.transport.lower() == transport.lower())

    def _remove_streams(self, ctx: MessageContext, match: Callable[[Stream], bool]) -> int:
        """Each matching stream deleted up to the next stream of its session (or the SDP's end)."""
        view = self._edit_view(ctx)
        if view is None:
            return -1
        removed = 0
        for session in view.sessions:
            for i, stream in enumerate(session.streams):
                if match(stream):
                    following = session.streams[i + 1] if i + 1 < len(session.streams) else None
                    lumps.delete(ctx, stream.start, following.start if following else view.raw_end)
                    removed += 1
        return 1 if removed else -1

    def sdp_transport(self, ctx: MessageContext, avp: str) -> int:
        name = _avp_name(avp)
        if name is None:
            return -1
        code, view = self._view(ctx)
        if code < 0:
            log.error("unable to parse sdp")
            return -1
        streams = view.streams if view is not None else []
        if streams and any(s.transport.lower() != streams[0].transport.lower() for s in streams):
            log_at(log, L_DBG, "no common transport")
            return -2
        if streams:
            avp_add(ctx, name, streams[0].transport)
        return 1

    # ------------------------------------------------------------------ lines

    def sdp_remove_line_by_prefix(self, ctx: MessageContext, prefix: str, media: str = "") -> int:
        view = self._edit_view(ctx)
        if view is None:
            return -1
        if not media:
            self._remove_lines(ctx, view.text, view.raw_start, view.raw_end, prefix)
        else:
            for stream in self._matching(view, media):
                self._remove_lines(ctx, view.text, stream.start, stream.end, prefix)
        return 1

    @staticmethod
    def _remove_lines(ctx: MessageContext, text: str, start: int, end: int, prefix: str) -> None:
        """sdp_remove_line_lump_by_prefix: lines beginning with `prefix`, neighbours in one lump."""
        if not prefix:
            return
        zone: tuple[int, int] | None = None
        pos = find_sdp_line(text, start, end, prefix[0])
        while pos >= 0:
            line_start, line_end = locate_line(text, pos)
            if end < line_start + len(prefix):
                break
            if text.startswith(prefix, line_start):
                if zone is not None and zone[1] == line_start:
                    zone = (zone[0], line_end)
                else:
                    if zone is not None:
                        lumps.delete(ctx, *zone)
                    zone = (line_start, line_end)
            pos = find_sdp_line(text, pos + 2, end, prefix[0])
        if zone is not None:
            lumps.delete(ctx, *zone)

    def sdp_get_line_startswith(self, ctx: MessageContext, avp: str, line: str) -> int:
        if not line:
            log.error("Search string is null or empty")
            return -1
        if not avp:
            log.error("avp variable name is null or empty")
            return -1
        code, view = self._view(ctx)
        if code < 0:
            log.error("Unable to parse sdp")
            return -1
        if code == 1 or view is None:
            return -2
        name = _avp_name(avp)
        if name is None:
            return -1
        text, end = view.text, len(view.text)
        pos = find_sdp_line(text, view.raw_start, end, line[0])
        while pos >= 0:
            start, stop = locate_line(text, pos)
            if text.startswith(line, start):
                value = text[start:stop]
                if value.endswith("\r\n"):
                    value = value[:-2]
                avp_add(ctx, name, value)
                return 1
            pos = find_sdp_line(text, stop, end, line[0])
        return -1

    # ------------------------------------------------------------------ the body

    def sdp_print(self, ctx: MessageContext, level: int) -> int:
        if self._view(ctx)[0] < 0:
            log.error("Unable to parse sdp")
            return -1
        # Kamailio 5.6 hands print_sdp() a NULL pointer here, so this is all it logs.
        log_at(log, level, "no sdp body")
        return 1

    def sdp_get(self, ctx: MessageContext, avp: str) -> int:
        name = _avp_name(avp)
        if name is None:
            return -1
        code, view = self._view(ctx)
        if code < 0:
            log.error("Unable to parse sdp")
            return -1
        if view is None:
            return -2
        avp_add(ctx, name, view.raw)
        return 1

    def sdp_content(self, ctx: MessageContext, sloppy: str | None = None) -> int:
        if sloppy is None:
            code, view = self._view(ctx)
            return 1 if code == 0 and view is not None else -1
        return _sloppy_content(ctx)

    def sdp_with_ice(self, ctx: MessageContext) -> int:
        return 1 if b"a=candidate" in ctx.msg.body else -1

    def sdp_get_address_family(self, ctx: MessageContext) -> int:
        code, view = self._view(ctx)
        if code < 0:
            log.error("Unable to parse sdp body")
            return -1
        if view is None or not view.sessions:
            return -1
        return view.sessions[-1].family or -1

    # ------------------------------------------------------------------ $sdp(...)

    def pv_sdp(self, spec: PVar) -> Accessor:
        name = spec.arg or ""
        if name not in _PV_NAMES:
            raise ValueError(f"unknown PV sdp name {name}")
        if name == "body":
            return Accessor(self._pv_body, self._pv_set_unknown)
        return Accessor(self._pv_sess_version, self._pv_set_sess_version)

    def _pv_body(self, ctx: MessageContext) -> str | None:
        code, view = self._view(ctx)
        if code < 0:
            log_at(log, L_DBG, "Unable to parse sdp")
        return view.raw if view is not None else None

    def _pv_sess_version(self, ctx: MessageContext) -> int | None:
        _, view = self._view(ctx)
        if view is None or not view.sessions:
            return None
        return _str2sint(view.sessions[-1].sess_version)

    @staticmethod
    def _pv_set_unknown(ctx: MessageContext, value: Any) -> None:
        log.error("unknown PV")

    def _pv_set_sess_version(self, ctx: MessageContext, value: Any) -> None:
        """`$sdp(sess_version) = N` writes N into the o= line; -1 adds one to the current value."""
        if not isinstance(value, int) or isinstance(value, bool):
            log.error("expected integer")
            return
        # Kamailio reads the session of the SDP parsed earlier for this message, and has none
        # when nothing parsed it yet
        view = self._edit_view(ctx) if ctx.local.get(_PARSED) is ctx.msg else None
        session = view.sessions[-1] if view is not None and view.sessions else None
        old_num = _str2sint(session.sess_version) if session is not None else None
        if session is None or old_num is None:
            log.error("unable to get current str pointer")
            return
        old = session.sess_version
        new = value
        if value == -1:
            new = old_num + 1
            if new > 2**31 - 1 or len(str(new)) < len(old):
                log.error("autoincrement: new(%d) < old(%s)", _int32(new), old)
                return
        lumps.delete(ctx, session.sess_version_at, session.sess_version_at + len(old), str(new))


def _int32(value: int) -> int:
    return (value + 2**31) % 2**32 - 2**31


def _str2sint(text: str) -> int | None:
    """str2sint: an optionally signed decimal that fits a C int, else None."""
    if not re.fullmatch(r"[+-]?\d*", text):
        return None
    value = int(text) if text.strip("+-") else 0
    return value if -2**31 <= value <= 2**31 - 1 else None


def _atoi(text: str) -> int:
    m = re.match(r"\s*[+-]?\d+", text)
    return int(m.group()) if m else 0


def _avp_name(spec: str) -> str | None:
    """The AVP a raw `$avp(name)` argument names (pv_cache_get, which must give an AVP)."""
    try:
        name = avp_param_name(spec.strip(), "bad")
    except ValueError:
        name = None
    if name is None:
        log_at(log, L_ERR, "malformed or non AVP %s AVP definition", spec)
    return name


def _sloppy_content(ctx: MessageContext) -> int:
    """ki_sdp_content_flags(msg, 1): the Content-Type alone says whether the body is SDP."""
    body = ctx.msg.body
    if not body:
        return -1
    ctype = ctx.msg.header("content-type")
    if ctype is None:
        return 1
    value = ctype.split(";", 1)[0].strip().lower().replace(" ", "")
    if "/" not in value or "," in value or "*" in value:
        return -1
    if value == "application/sdp":
        return 1
    if value == "multipart/mixed":
        return 1 if b"application/sdp" in body.lower() else -1
    return -1
