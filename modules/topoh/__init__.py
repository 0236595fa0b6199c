"""topoh: topology hiding (Kamailio's topoh module)."""
from __future__ import annotations

from kampy.api import EventRoute, Exports, Need, Param, SanityAPI, Unimplemented

from .topoh import TopohModule

__all__ = ["EXPORTS", "TopohModule"]

EXPORTS = Exports(
    name="topoh",
    doc="Hides the addresses of the network behind kampy: the Via, Record-Route, Route and Contact "
        "headers (and, optionally, the Call-ID) of the messages it relays are encoded into "
        "parameters of the mask address, and decoded again when the other side answers or sends "
        "a request within the dialog. It works on the bytes received and sent, before and after "
        "the config sees the message, with Kamailio's encoding: Kamailio and kampy with the same "
        "mask_key decode each other's.",
    params=(
        Param("mask_key", (str,), "aL9.n8~Hm]Z", doc="the key that shuffles the encoding's alphabet"),
        Param("mask_ip", (str,), "127.0.0.8", doc="the address put in place of the hidden ones"),
        Param("mask_callid", (int,), 0, doc="1: encode the Call-ID too"),
        Param("uparam_name", (str,), "line", doc="the URI parameter holding an encoded URI"),
        Param("uparam_prefix", (str,), "sr-", doc="what the encoded URI begins with"),
        Param("vparam_name", (str,), "branch", doc="the Via parameter holding an encoded Via"),
        Param("vparam_prefix", (str,), "z9hG4bKsr-", doc="what the encoded Via begins with"),
        Param("callid_prefix", (str,), "!!:", doc="what an encoded Call-ID begins with"),
        Param("sanity_checks", (int,), 0,
              doc="1: check each received request with sanity's default checks first; one that "
                  "fails is answered as sanity answers it and is not decoded (needs sanity)"),
        Param("uri_prefix_checks", (int,), 0,
              doc="1: decode only URIs and Vias that begin with the mask address's prefix"),
        Param("event_mode", (int,), 3,
              doc="which event routes run: 1 topoh:msg-outgoing, 2 topoh:msg-sending, 3 both"),
    ),
    event_routes=(
        EventRoute("topoh:msg-outgoing",
                   doc="run with Kamailio's faked message before a message is sent; `drop` sends it "
                       "unmasked"),
        EventRoute("topoh:msg-sending",
                   doc="run with the message about to be sent (its cookie removed); `drop` sends it "
                       "unmasked"),
    ),
    not_implemented=(
        Unimplemented("param", "event_callback",
                      "names a KEMI function to run instead of the event routes; kampy runs only "
                      "Kamailio's native config language (Kamailio ignores it with one too)"),
    ),
    needs=(Need("sanity", SanityAPI, optional=True, doc="the checks of sanity_checks"),),
    factory=TopohModule,
)
