"""`kampy check` on Debian's stock kamailio.cfg with its NAT defines (WITH_NAT, WITH_NATSIPPING,
WITH_RTPENGINE), alone and with the base defines: nothing it reports concerns nathelper, rtpengine,
rtpproxy or the functions the NAT routes call. What it does report is only modules of the config
kampy does not have yet (written by others); once they exist this is `kampy check` passing."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kampy import loader
from kampy.cli import main

STOCK_CFG = Path("/etc/kamailio/kamailio.cfg")  # installed by Debian's kamailio package
MANIFESTS = Path(__file__).resolve().parent / "data" / "kamailio-modules"
BASE = ("WITH_MYSQL", "WITH_AUTH", "WITH_USRLOCDB", "WITH_ACCDB")
NAT_DEFINES = [("WITH_NAT",), ("WITH_NAT", "WITH_NATSIPPING"), ("WITH_NAT", "WITH_RTPENGINE"),
               ("WITH_NAT", "WITH_NATSIPPING", "WITH_RTPENGINE")]


def absent_modules() -> set[str]:
    """The modules the stock config loads that kampy has none of."""
    names = set(re.findall(r'^loadmodule\s+"(\w+)\.so"', STOCK_CFG.read_text(), re.MULTILINE))
    return {n for n in names if n not in loader.builtin_names()}


@pytest.mark.parametrize("base", [(), BASE], ids=["alone", "with-base"])
@pytest.mark.parametrize("defines", NAT_DEFINES, ids=lambda d: "+".join(d))
def test_kampy_check_finds_nothing_about_nat(defines: tuple[str, ...], base: tuple[str, ...],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    args = ["check", str(STOCK_CFG)]
    for name in (*defines, *base):
        args += ["-A", name]
    code = main(args)
    out = capsys.readouterr()
    errors = [line for line in (out.out + out.err).splitlines() if ": error: " in line]
    absent = absent_modules()
    functions = {f["name"] for name in absent
                 for f in json.loads((MANIFESTS / f"{name}.json").read_text())["functions"]}
    elsewhere = [e for e in errors if any(f"'{name}'" in e for name in absent)
                 or any(e.endswith(f"unknown function '{f}'") for f in functions)]
    mine = [e for e in errors if e not in elsewhere]
    assert mine == []
    assert (code == 0) == (not errors)
    assert not any(name in absent for name in ("nathelper", "rtpengine", "rtpproxy"))
