"""A test module that marks digest credentials authorized, as an authentication module does when
it accepts them, for the modules that read them back (group's "Credentials", uri_db's checks).

    loadpath "tests/e2e/modules"
    loadmodule "auth_probe"
    request_route { accept_credentials("Authorization"); ... }

`accept_credentials(header)` takes the username and realm of the first header of that name
(`Authorization` or `Proxy-Authorization`) without checking the response, and marks them as
kampy's authentication functions mark the credentials they accept (`ctx.authorized_credentials`).
"""
from __future__ import annotations

import re
from typing import Any

from kampy.api import (Arg, ArgKind, CoreAPI, Credentials, Exports, Function, MessageContext, Module,
                       RouteType)

_FIELD = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


class AuthProbe(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)

    def accept_credentials(self, ctx: MessageContext, header: str) -> int:
        value = ctx.msg.header(header)
        if value is None:
            return -1
        fields = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                  for m in _FIELD.finditer(value)}
        ctx.authorized_credentials.append(Credentials(header, fields.get("username", ""),
                                                      fields.get("realm", "")))
        return 1


EXPORTS = Exports(
    name="auth_probe",
    doc="Marks digest credentials as accepted (tests of the modules that read them).",
    functions=(
        Function("accept_credentials", args=(Arg("header", ArgKind.STR),), routes=RouteType.ANY,
                 doc="Mark the credentials of the first header of that name as accepted."),
    ),
    factory=AuthProbe,
)
