"""What save(), lookup() and the replies of registrar share: save()'s flags and limits, Kamailio's
rerrno values (reply code and P-Registrar-Error text), and the state of one save() call."""
from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from typing import Any

from kampy.api import MessageContext, NameAddr, Request

REG_SAVE_MEM_FL, REG_SAVE_NORPL_FL, REG_SAVE_REPL_FL = 1, 2, 4
REG_SAVE_NOVARIATION_FL, REG_SAVE_PREPRPL_FL, REG_SAVE_ALL_FL = 8, 16, 31
PATH_MODE_OFF, PATH_MODE_LAZY, PATH_MODE_STRICT = 0, 1, 2
MAX_UA_SIZE = 255
CALLID_MAX_SIZE = 255
RECEIVED_MAX_SIZE = 255
EXPIRED_ROUTE = "usrloc:contact-expired"
PREPARED_REPLY = "registrar_reply"  # ctx.local: the reply save() left for reg_send_reply()


class R(enum.Enum):
    """Kamailio's rerrno values: (code, P-Registrar-Error text)."""

    FINE = (200, "No problem")
    UL_DEL_R = (500, "usrloc_record_delete failed")
    UL_GET_R = (500, "usrloc_record_get failed")
    UL_NEW_R = (500, "usrloc_record_new failed")
    INV_CSEQ = (400, "Invalid CSeq number")
    UL_INS_C = (500, "usrloc_contact_insert failed")
    UL_DEL_C = (500, "usrloc_contact_delete failed")
    UL_UPD_C = (500, "usrloc_contact_update failed")
    AOR_LEN = (500, "Address Of Record too long")
    AOR_PARSE = (400, "Error while parsing AOR")
    INV_Q = (400, "Invalid q param in contact")
    PARSE = (400, "Message parse error")
    TO_MISS = (400, "To header not found")
    CID_MISS = (400, "Call-ID header not found")
    CS_MISS = (400, "CSeq header not found")
    PARSE_EXP = (400, "Expires parse error")
    PARSE_CONT = (400, "Contact parse error")
    STAR_EXP = (400, "* used in contact and expires is not zero")
    STAR_CONT = (400, "* used in contact and more than 1 contact")
    TOO_MANY = (503, "Too many registered contacts")
    CONTACT_LEN = (400, "Contact/received too long")
    CALLID_LEN = (400, "Callid too long")
    PARSE_PATH = (400, "Path parse error")
    PATH_UNSUP = (420, "No support for found Path indicated")
    OB_UNSUP = (421, "No support for Outbound indicated")
    OB_REQD = (420, "No support for Outbound on server")
    OB_UNSUP_EDGE = (439, "No support for Outbound on edge proxy")
    INV_REGID = (400, "Invalid Reg-Id number")
    LOW_EXP = (423, "Interval too brief")


REASONS = {200: "OK", 400: "Bad Request", 420: "Bad Extension", 421: "Extension Required",
           423: "Interval Too Brief", 439: "First Hop Lacks Outbound Support", 500: "Server Internal Error",
           503: "Service Unavailable"}


class RegError(Exception):
    def __init__(self, err: R) -> None:
        super().__init__(err.value[1])
        self.err = err


@dataclass
class SaveState:
    """What one save() call works with (Kamailio's rerrno, contact buffer and path vector)."""

    ctx: MessageContext
    msg: Request
    domain: str
    aor: str
    host: str
    flags: int
    err: R = R.FINE
    contact_hdr: str = ""
    path: str | None = None
    rewritten: Any = None  # the AoR's only binding as save() rewrote it, when that was all it did
    use_regid: bool = True  # the Contacts' reg-id is used (outbound)


@functools.lru_cache(maxsize=64)  # save()'s flags: a few constant texts
def strno2int(text: str) -> int:
    """Kamailio's strno2int: decimal, or hex with 0x."""
    text = text.strip()
    return int(text, 16) if text[:2].lower() == "0x" else int(text)



def contact_instance(c: NameAddr) -> str | None:
    return c.params.body("+sip.instance") or None
