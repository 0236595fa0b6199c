"""RFC 5626 (SIP Outbound) flow tokens for rr and path."""

from __future__ import annotations

from kampy.api import CfgGroup, CfgVar, Exports, ObAPI, Offer, Param

from .outbound import OutboundModule

EXPORTS = Exports(
    name="outbound",
    doc="RFC 5626 (SIP Outbound) flow tokens for rr and path.",
    params=(
        Param("force_outbound_flag", (int,), -1,
              doc="a message flag: when set, outbound is used for the request without further checks"),
        Param("force_no_outbound_flag", (int,), -1,
              doc="a message flag: when set (and force_outbound_flag is not), outbound is not used"),
        Param("flow_token_secret", (str,), None,
              doc="the secret whose SHA-1 is the HMAC key of the flow tokens (so that they stay valid "
                  "across restarts and servers); unset: a random key per server start"),
    ),
    cfg=CfgGroup("outbound", (CfgVar("outbound_enabled", "int", "If set to one (true) Outbound is enabled.",
                                     param=None, default=1, readonly=True),)),
    offers=(Offer("outbound", ObAPI, doc="flow tokens and the use-outbound test (Kamailio's ob_binds)"),),
    factory=OutboundModule,
)
