"""Kamailio's binrpc protocol (the ctl module's, spoken by kamcmd), sans-IO: bytes in, bytes out.

A packet is a header and a body of records:

* header: `0xA1` (magic 0xA, version 1), then one byte `type << 4 | (LL - 1) << 2 | (CL - 1)`, the
  body length on LL bytes and a cookie on CL bytes (big endian, the fewest bytes that hold them);
  type 0 is a request, 1 a reply, 3 a fault;
* record: one byte `S | size (3 bits) | type (4 bits)`, then, if S is set, the value's length on
  `size` bytes, then the value. Integers are 32-bit big endian in the fewest bytes (0 in none);
  strings end with a NUL counted in their length; doubles are fixed point (value x 1000 as a 64-bit
  integer); a struct is a start tag, name/value pairs (AVP records), an end tag (`0x83`); an array
  is written as a struct whose members have no names.

A request body is the method name and its parameters; a reply body the values the method added
(`rpc->add`), several values one after the other; a fault body an integer code and a message.

Used by the ctl module (the server side) and by `kampy rpc -s` (the client side).
"""
from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

MAGIC_VERSION = 0xA1
REQUEST, REPLY, FAULT = 0, 1, 3

T_INT, T_STR, T_DOUBLE, T_STRUCT, T_ARRAY, T_AVP, T_BYTES = range(7)
T_ALL = 0xF

# errors, with binrpc_error()'s words
E_INVAL, E_OVERFLOW, E_BADPKT, E_MORE_DATA, E_EOP, E_NOTINIT, E_TYPE, E_RECORD, E_BUG = range(-1, -10, -1)
ERROR_TEXT = ("no error", "invalid function arguments", "buffer too small (overflow)", "corrupted packet",
              "more data needed", "end of packet encountered", "binrpc parse context not initialized",
              "record doesn't match type", "bad record", "bug -- internal error",
              "unknown/invalid error code")

MIN_PACKET = 4  # magic, type byte, one byte of length, one of cookie

TYPE_NAMES = {T_INT: "integer", T_STR: "string", T_DOUBLE: "float", T_STRUCT: "structure",
              T_ARRAY: "array", T_AVP: "structure member", T_BYTES: "bytes array", T_ALL: "any"}


def error_text(code: int) -> str:
    """binrpc_error(): the words for an error code."""
    index = -code if code < 0 else code
    return ERROR_TEXT[min(index, len(ERROR_TEXT) - 1)]


class BinRpcError(Exception):
    """A packet that cannot be read (or written); `code` is one of the E_* values."""

    def __init__(self, code: int) -> None:
        super().__init__(error_text(code))
        self.code = code


class NeedMore(BinRpcError):
    def __init__(self) -> None:
        super().__init__(E_MORE_DATA)


# ------------------------------------------------------------------ header and framing


@dataclass(frozen=True)
class Header:
    kind: int          # REQUEST, REPLY, FAULT
    body_len: int
    cookie: int
    size: int          # bytes of the header itself

    @property
    def packet_len(self) -> int:
        return self.size + self.body_len


def _minimal(value: int, width: int) -> bytes:
    """`value` (as an unsigned `width`-byte number) big endian without its leading zero bytes."""
    raw = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "big")
    return raw.lstrip(b"\0")


def build_header(kind: int, body_len: int, cookie: int) -> bytes:
    length = _minimal(body_len, 4) or b"\0"
    cookie_bytes = _minimal(cookie, 4) or b"\0"
    return bytes((MAGIC_VERSION, kind << 4 | (len(length) - 1) << 2 | (len(cookie_bytes) - 1))) \
        + length + cookie_bytes


def parse_header(buf: bytes | bytearray | memoryview) -> Header:
    """The header at the start of `buf`: raises NeedMore when it is not all there, BinRpcError
    (E_BADPKT) when it is no binrpc header."""
    if len(buf) < MIN_PACKET:
        raise NeedMore()
    if buf[0] != MAGIC_VERSION:
        raise BinRpcError(E_BADPKT)
    kind = buf[1] >> 4
    if kind not in (REQUEST, REPLY, FAULT):
        raise BinRpcError(E_BADPKT)
    len_len = (buf[1] >> 2 & 3) + 1
    cookie_len = (buf[1] & 3) + 1
    size = 2 + len_len + cookie_len
    if len(buf) < size:
        raise NeedMore()
    body_len = int.from_bytes(bytes(buf[2:2 + len_len]), "big")
    cookie = int.from_bytes(bytes(buf[2 + len_len:size]), "big")
    return Header(kind, body_len, cookie, size)


def packet_length(buf: bytes | bytearray | memoryview) -> int:
    """The length of the first whole packet in `buf` (a stream's framing), 0 while it is not all
    there; raises BinRpcError for bytes that are no binrpc packet."""
    try:
        header = parse_header(buf)
    except NeedMore:
        return 0
    return header.packet_len if len(buf) >= header.packet_len else 0


def frame(buf: bytes | bytearray | memoryview) -> int:
    """A stream's framing for a server: the first packet's length, 0 while it is incomplete, -1
    when the bytes are no binrpc packet (answered with a fault, then the connection is closed)."""
    try:
        return packet_length(buf)
    except BinRpcError:
        return -1


def build_packet(kind: int, cookie: int, body: bytes) -> bytes:
    return build_header(kind, len(body), cookie) + body


# ------------------------------------------------------------------ writing records


def encode_int(value: int, kind: int = T_INT) -> bytes:
    """An integer record: the 32-bit value in the fewest bytes (binrpc_add_int_type)."""
    raw = _minimal(value, 4)
    return bytes((len(raw) << 4 | kind,)) + raw


def encode_double(value: float) -> bytes:
    """A double record: Kamailio's fixed point, `(long long)(value * 1000)` in the fewest bytes."""
    raw = _minimal(int(value * 1000), 8)
    return bytes((len(raw) << 4 | T_DOUBLE,)) + raw


def _length_mark(length: int, kind: int) -> bytes:
    if length < 8:
        return bytes((length << 4 | kind,))
    raw = _minimal(length, 4)
    return bytes(((len(raw) | 8) << 4 | kind,)) + raw


def encode_str(value: str | bytes, kind: int = T_STR) -> bytes:
    """A string record (T_STR and T_AVP end with a NUL counted in the length; T_BYTES does not)."""
    data = value.encode() if isinstance(value, str) else bytes(value)
    if kind in (T_STR, T_AVP):
        data += b"\0"
    return _length_mark(len(data), kind) + data


STRUCT_START = bytes((T_STRUCT,))
STRUCT_END = bytes((0x80 | T_STRUCT,))


def encode_scalar(value: Any) -> bytes:
    """A value a method adds, as rpc->add does: int ("d"/"u"; beyond 32 bits a double, as "L"),
    float ("f"), str ("s"), bytes, None as Kamailio's "<null string>"."""
    if value is None:
        return encode_str(NULL_STRING)
    if isinstance(value, bool):
        return encode_int(int(value))
    if isinstance(value, int):  # "d"/"u": 32 bits (an unsigned value wraps, as in C); wider: "L"
        return encode_int(value) if -(1 << 31) <= value < (1 << 32) else encode_double(float(value))
    if isinstance(value, float):
        return encode_double(value)
    if isinstance(value, (bytes, bytearray)):
        return encode_str(bytes(value), T_BYTES)
    return encode_str(str(value))


NULL_STRING = "<null string>"


def encode_request(method: str, params: Sequence[Any]) -> bytes:
    """A request body: the method name, then each parameter (int, float, str)."""
    return encode_str(method) + b"".join(encode_scalar(p) for p in params)


def encode_fault(code: int, message: str) -> bytes:
    """A fault body: the code and the message (with its NUL), as _rpc_fault() writes it."""
    return encode_int(code) + encode_str(message)


# ------------------------------------------------------------------ reading records


@dataclass(frozen=True)
class Record:
    """One record as binrpc_read_record() gives it: `name` for a struct member, `end` for a struct
    or array end tag; `depth` is the nesting (structs and arrays) after reading it."""

    kind: int
    value: Any = None
    name: str | None = None
    end: bool = False
    depth: int = 0


class Reader:
    """Reads the records of one body in order, with Kamailio's checks: `smode` (as kamcmd's
    printing) allows plain values inside a struct; without it (a request's parameters) a struct
    holds only name/value pairs."""

    def __init__(self, body: bytes, smode: bool = True) -> None:
        self.body = bytes(body)
        self.pos = 0
        self.smode = smode
        self.in_struct = 0
        self.in_array = 0

    def __iter__(self) -> Iterator[Record]:
        while self.pos < len(self.body):
            yield self.read()

    def at_end(self) -> bool:
        return self.pos >= len(self.body)

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.body):
            raise NeedMore()
        data = self.body[self.pos:self.pos + n]
        self.pos += n
        return data

    def _mark(self) -> tuple[int, int, bool]:
        first = self._take(1)[0]
        kind, size = first & 0xF, first >> 4
        extended = False
        if kind != T_DOUBLE and size & 8:
            extended = True
            size = int.from_bytes(self._take(size & 7), "big")
        return kind, size, extended

    def read(self, expect: int = T_ALL) -> Record:
        """The next record; `expect` other than T_ALL raises BinRpcError(E_TYPE) for another type
        (and leaves the position where it was)."""
        if self.at_end():
            raise BinRpcError(E_EOP)
        start, in_struct, in_array = self.pos, self.in_struct, self.in_array
        try:
            return self._read(expect)
        except BinRpcError:
            self.pos, self.in_struct, self.in_array = start, in_struct, in_array
            raise

    def _read(self, expect: int, name: str | None = None) -> Record:
        kind, size, extended = self._mark()
        if self.pos + size > len(self.body):
            raise NeedMore()
        if expect not in (T_ALL, kind):
            raise BinRpcError(E_TYPE)
        if kind == T_STRUCT:
            return self._struct_tag(extended, name)
        if kind == T_ARRAY:
            return self._array_tag(extended, name)
        if kind == T_AVP:
            return self._member(size)
        if self.in_struct and not self.smode and name is None:
            raise BinRpcError(E_RECORD)
        raw = self._take(size)
        if kind == T_INT:
            value: Any = struct.unpack(">i", raw.rjust(4, b"\0")[-4:])[0] if size else 0
        elif kind == T_STR:
            value = raw[:-1].decode(errors="replace") if size else ""
        elif kind == T_BYTES:
            value = raw
        elif kind == T_DOUBLE:
            value = struct.unpack(">q", raw.rjust(8, b"\0")[-8:])[0] / 1000 if size else 0.0
        else:
            raise BinRpcError(E_RECORD if self.in_struct else E_TYPE)
        return Record(kind, value, name, depth=self.in_struct + self.in_array)

    def _struct_tag(self, end: bool, name: str | None) -> Record:
        if end:
            if not self.in_struct:
                raise BinRpcError(E_RECORD)
            self.in_struct -= 1
        else:
            if self.in_struct and not self.smode and name is None:
                raise BinRpcError(E_RECORD)
            self.in_struct += 1
        return Record(T_STRUCT, None, name, end, self.in_struct + self.in_array)

    def _array_tag(self, end: bool, name: str | None) -> Record:
        if self.in_struct and not self.smode:
            raise BinRpcError(E_RECORD)
        if end:
            if not self.in_array:
                raise BinRpcError(E_RECORD)
            self.in_array -= 1
        else:
            self.in_array += 1
        return Record(T_ARRAY, None, name, end, self.in_struct + self.in_array)

    def _member(self, size: int) -> Record:
        """A struct member: its name, then its value (anything but a member or an array)."""
        if not self.in_struct:
            raise BinRpcError(E_TYPE)
        name = self._take(size)[:-1].decode(errors="replace") if size else ""
        if self.at_end():
            raise NeedMore()
        if self.body[self.pos] & 0xF in (T_AVP, T_ARRAY):
            raise BinRpcError(E_RECORD)
        return self._read(T_ALL, name)


def read_request(body: bytes) -> tuple[str, list[Any]]:
    """The method and parameters of a request body (a struct parameter becomes a dict)."""
    reader = Reader(body, smode=False)
    method = reader.read(T_STR).value
    return method, [_value(reader, record) for record in reader]


def read_values(body: bytes) -> list[Any]:
    """The values of a reply body as Python values: a struct of members is a dict, a struct of
    plain values (an array) a list, a struct holding both a list of its values and single-member
    dicts for its members."""
    reader = Reader(body, smode=True)
    return [_value(reader, record) for record in reader]


def read_fault(body: bytes) -> tuple[int, str]:
    values = read_values(body)
    code = values[0] if values and isinstance(values[0], int) else 0
    message = values[1] if len(values) > 1 else ""
    return code, str(message)


def _value(reader: Reader, record: Record) -> Any:
    if record.kind not in (T_STRUCT, T_ARRAY) or record.end:
        return record.value
    members: list[tuple[str | None, Any]] = []
    for inner in reader:
        if inner.kind == record.kind and inner.end:
            break
        members.append((inner.name, _value(reader, inner)))
    named = [n for n, _ in members if n is not None]
    if len(named) == len(members) and len(set(named)) == len(named) and (members or record.kind == T_STRUCT):
        return {n: v for n, v in members}
    return [v if n is None else {n: v} for n, v in members]


# ------------------------------------------------------------------ replies from Python values


class Member(dict):  # type: ignore[type-arg]
    """One named value added to an array (Kamailio's `rpc->struct_add` on an array handle): JSON
    shows it as `{name: value}` in the array, binrpc as a named member of the array's struct."""

    def __init__(self, name: str, value: Any) -> None:
        super().__init__({name: value})

    @property
    def name(self) -> str:
        return next(iter(self))

    @property
    def value(self) -> Any:
        return next(iter(self.values()))


class RpcStruct(dict):  # type: ignore[type-arg]
    """A struct whose members may repeat a name (Kamailio's `rpc->struct_add` called with one name
    several times, as pv.shvGet's `shv` members): JSON shows every member, binrpc too."""

    def __init__(self, pairs: Sequence[tuple[str, Any]] = ()) -> None:
        super().__init__(pairs)
        self.pairs = list(pairs)

    def add(self, name: str, value: Any) -> None:
        self.pairs.append((name, value))
        self[name] = value

    def items(self):  # type: ignore[override]  # json.dumps and the writers read the members here
        return iter(self.pairs)


class Overflow(Exception):
    """A reply part larger than its buffer (binrpc_max_body_size, binrpc_struct_max_body_size)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind  # Kamailio's formatting character of what did not fit


def format_char(value: Any) -> str:
    if isinstance(value, (dict, list, tuple)):
        return "{"
    if isinstance(value, bool) or (isinstance(value, int) and -(1 << 31) <= value < (1 << 32)):
        return "d"
    if isinstance(value, (int, float)):
        return "f"
    return "s"


class ReplyWriter:
    """Encodes what a method returned as Kamailio's binrpc_run.c writes it: each top-level value
    in the reply buffer (at most `max_body` bytes), each struct's own members in a buffer of its
    own (at most `max_struct` bytes; its nested structs in theirs). A top-level list is several
    values (rpc->add called once per item); a dict is a struct; a list inside a struct is an array
    (written as a struct of plain values); a `Member` in it a named member."""

    def __init__(self, max_body: int = 32 * 1024, max_struct: int = 8 * 1024) -> None:
        self.max_body = max_body
        self.max_struct = max_struct

    def body(self, result: Any) -> bytes:
        values = result if isinstance(result, list) else ([] if result is None else [result])
        out: list[bytes] = []
        own = 0
        for value in values:
            chunk, tags = self._top(value)
            own += tags
            if own > self.max_body:
                raise Overflow(format_char(value))
            out.append(chunk)
        return b"".join(out)

    def _top(self, value: Any) -> tuple[bytes, int]:
        """(bytes of a top-level value, how many of them sit in the reply buffer itself)."""
        if isinstance(value, (dict, list, tuple)):
            return STRUCT_START + self._content(value) + STRUCT_END, 2
        data = encode_scalar(value)
        return data, len(data)

    def _content(self, value: Any) -> bytes:
        """The inside of a struct (dict) or array (list): its own bytes count against max_struct."""
        own = 0
        out: list[bytes] = []
        items: list[tuple[str | None, Any]]
        if isinstance(value, dict):
            items = [(str(k), v) for k, v in value.items()]
        else:
            items = [(item.name, item.value) if isinstance(item, Member) else (None, item) for item in value]
        for name, item in items:
            head = encode_str(name, T_AVP) if name is not None else b""
            if isinstance(item, (dict, list, tuple)):
                own += len(head) + 2
                out.append(head + STRUCT_START + self._content(item) + STRUCT_END)
            else:
                data = head + encode_scalar(item)
                own += len(data)
                out.append(data)
            if own > self.max_struct:
                raise Overflow(format_char(item))
        return b"".join(out)


def reply_packet(cookie: int, result: Any, writer: ReplyWriter | None = None) -> bytes:
    return build_packet(REPLY, cookie, (writer or ReplyWriter()).body(result))


def fault_packet(cookie: int, code: int, message: str) -> bytes:
    return build_packet(FAULT, cookie, encode_fault(code, message))


# ------------------------------------------------------------------ kamcmd's printing


def format_records(body: bytes) -> list[str]:
    """The lines kamcmd prints for a reply body (print_body without a format): each record on a
    line, indented by its nesting, struct members as `name: value`, doubles as integers when whole."""
    lines: list[str] = []
    reader = Reader(body, smode=True)
    for record in reader:
        indent = record.depth
        if record.kind == T_STRUCT and not record.end:
            indent -= 1
        lines.append("\t" * max(indent, 0) + (f"{record.name}: " if record.name is not None else "")
                     + _print_value(record))
    return lines


def _print_value(record: Record) -> str:
    if record.kind == T_STRUCT:
        return "}" if record.end else "{"
    if record.kind == T_ARRAY:
        return "]" if record.end else "["
    if record.kind == T_DOUBLE:
        value = float(record.value)
        return str(int(value)) if value == int(value) else f"{value:f}"
    if record.kind == T_BYTES:
        return record.value.decode(errors="replace")
    return str(record.value)
