"""registrar's group of the cfg framework (Kamailio's modules/registrar/config.c): what `save()` and
`lookup()` read for each message, changed at run time with `kamcmd cfg.set_now_int registrar
default_expires 600` (cfg_rpc) in every worker."""
from __future__ import annotations

from typing import Any

from kampy.api import CfgGroup, CfgVar, CoreAPI

CFG = CfgGroup("registrar", (
    CfgVar("realm_pref", "str", 'Realm prefix to be removed. Default is ""', param="realm_prefix"),
    CfgVar("default_expires", "int", "Contains number of second to expire if no expire hf or contact "
           "expire present", on_set="on_default_expires", only_once=True),
    CfgVar("default_expires_range", "int", "Percent from default_expires that will be used in generating "
           "the range for the expire interval", min=0, max=100, on_set="on_default_expires_range",
           only_once=True),
    CfgVar("expires_range", "int", "Percent from incoming expires that will be used in generating the range "
           "for the expire interval", min=0, max=100, on_set="on_expires_range", only_once=True),
    CfgVar("min_expires", "int", "The minimum expires value of a Contact. Value 0 disables the checking. ",
           only_once=True),
    CfgVar("max_expires", "int", "The maximum expires value of a Contact. Value 0 disables the checking. ",
           on_set="on_max_expires", only_once=True),
    CfgVar("max_contacts", "int", "The maximum number of Contacts for an AOR. Value 0 disables the "
           "checking. "),
    CfgVar("retry_after", "int", "If you want to add the Retry-After header field in 5xx replies, set this "
           "parameter to a value grater than zero"),
    CfgVar("case_sensitive", "int", "If set to 1 then AOR comparison will be case sensitive. Recommended and "
           "default is 0, case insensitive"),
    CfgVar("default_q", "int",
     "The parameter represents default q value for new contacts.", min=-1, max=1000),
    CfgVar("append_branches", "int", "If set to 1(default), lookup will put all contacts found in msg "
           "structure"),
    CfgVar("use_expired_contacts", "int", "Toggles using expired contacts as if they were active."),
))


class RegistrarCfg:
    """The values of the group as the message at hand sees them, and the per-worker callbacks
    Kamailio's registrar has (they keep the statistics that show the limits up to date)."""

    core: CoreAPI

    def _cfg(self, name: str) -> Any:
        return self.core.cfg.get("registrar", name)

    @property
    def realm_prefix(self) -> str:
        return self._cfg("realm_pref") or ""

    @property
    def default_expires(self) -> int:
        return int(self._cfg("default_expires"))

    @property
    def default_expires_range(self) -> int:
        return int(self._cfg("default_expires_range"))

    @property
    def expires_range(self) -> int:
        return int(self._cfg("expires_range"))

    @property
    def min_expires(self) -> int:
        return int(self._cfg("min_expires"))

    @property
    def max_expires(self) -> int:
        return int(self._cfg("max_expires"))

    @property
    def max_contacts(self) -> int:
        return int(self._cfg("max_contacts"))

    @property
    def retry_after(self) -> int:
        return int(self._cfg("retry_after"))

    @property
    def case_sensitive(self) -> int:
        return int(self._cfg("case_sensitive"))

    @property
    def default_q(self) -> int:
        return int(self._cfg("default_q"))

    @property
    def append_branches(self) -> int:
        return int(self._cfg("append_branches"))

    @property
    def use_expired_contacts(self) -> int:
        return int(self._cfg("use_expired_contacts"))

    def on_default_expires(self, value: Any) -> None:
        self.core.stats.set("registrar:default_expire", int(value))

    def on_default_expires_range(self, value: Any) -> None:
        self.core.stats.set("registrar:default_expires_range", int(value))

    def on_expires_range(self, value: Any) -> None:
        self.core.stats.set("registrar:expires_range", int(value))

    def on_max_expires(self, value: Any) -> None:
        self.core.stats.set("registrar:max_expires", int(value))
