"""What transaction matching compares (Kamailio's t_lookup.c under the cfg variables `ruri_matching`,
`via1_matching`, `callid_matching` and `callid_cseq_matching`), read from the cfg group on each
lookup so `kamcmd cfg.set_now_int tm ...` applies to the next message. As in Kamailio, a request is
looked for in the hash slot of its Call-ID and CSeq number only: a retransmission whose Call-ID
changed is a new transaction (unless the slot is the same; then `callid_matching` tells them apart).

With `callid_cseq_matching` a reply finds its branch by the hash, owner and branch index of its Via
branch, and by Call-ID and CSeq number, whatever the branch's md5 part became on the way (Kamailio
compares Call-ID and CSeq instead of the md5)."""
from __future__ import annotations

from kampy.api import ClientTransaction, Matching, Request, Response, hash2_raw

from . import tags
from .base import TmBase
from .cell import Leg


def hash_slot(req: Request) -> int:
    """The slot of Kamailio's transaction table a request goes to (hash of Call-ID and CSeq number):
    a request is looked for in its own slot only."""
    cseq = req.cseq
    return hash2_raw(req.call_id or "", str(cseq.num) if cseq is not None else "") & 0xFFFF


class Matcher(TmBase):
    """The matching settings of the cfg group, and the callid_cseq_matching of replies."""

    _matching_key: tuple[object, ...] = ()
    _matching_value = Matching(bucket=None)

    @property
    def matching(self) -> Matching:
        get = self.cfg.get
        key = (get("tm", "ruri_matching"), get("tm", "via1_matching"), get("tm", "callid_matching"))
        if key != self._matching_key:
            self._matching_value = Matching(ruri=bool(key[0]), via1=bool(key[1]), callid=bool(key[2]),
                                            bucket=hash_slot)
            self._matching_key = key
        return self._matching_value

    @property
    def callid_cseq_matching(self) -> bool:
        return bool(self.cfg.get("tm", "callid_cseq_matching"))

    def _match_reply(self, msg: Response) -> ClientTransaction | None:
        """t_reply_matching: the client transaction of a reply, by key or else (callid_cseq_matching)
        by Call-ID and CSeq."""
        if not self.callid_cseq_matching:
            return self.table.match_response(msg, self.matching)
        leg = self._leg_by_callid_cseq(msg)
        return leg.tx if leg is not None else None  # type: ignore[return-value]

    def _leg_by_callid_cseq(self, msg: Response) -> Leg | None:
        via, cseq = msg.via, msg.cseq
        parts = tags.branch_parts(via.branch if via is not None else None)
        if parts is None or cseq is None:
            return None
        prefix, index = parts
        method = cseq.method.upper()
        for tx, leg in self._legs.items():
            if not isinstance(tx, ClientTransaction) or tx.terminated or leg.branch != index \
                    or tx.key[1] != method:
                continue
            own = tags.branch_parts(tx.key[0])
            if own is None or own[0] != prefix:
                continue
            req = leg.cell.request
            if req.call_id == msg.call_id and req.cseq is not None and req.cseq.num == cseq.num:
                return leg
        return None
