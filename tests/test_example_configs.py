"""Kamailio's own configs parse: the stock kamailio.cfg with each WITH_* define, and the Debian
examples that `kamailio -c -f FILE` accepts (apart from modules missing on the machine).

The example list was made by running `kamailio -c -f` (Kamailio 5.6.3, Debian) on every example
with the `mpath`/`loadpath` lines removed: a file is listed when Kamailio accepted it or reported
only missing modules, module functions or module pseudo-variables. Left out, because Kamailio 5.6
rejects them too: exec/exec_s5*.cfg and kamailio/exec_s5.cfg (a missing ';'), mixed/acc, pstn,
replicate, serial_183 (`max_len` argument), mixed/dbtext, flag_reply, nathelper, voicemail,
welcome (`fifo=`), mixed/snmp (`statistics=`), presence/*.cfg (`msg:len >= max_len`),
kemi/kamailio-basic-kemi-native.cfg and ims/pcscf/route/websocket.cfg (undefined names),
ims/pcscf/tls.cfg.sample (a tls module file); and those whose include is not shipped:
ims/icscf/kamailio.cfg, ims/scscf/kamailio.cfg, ims/pcscf/kamailio.cfg, kemi/kamailio-basic-kemi.cfg.
"""
from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from kampy.config.parse import parse
from kampy.config.preprocess import preprocess_file, preprocess_text
from kampy.errors import ConfigError

STOCK_CFG = Path("/etc/kamailio/kamailio.cfg")
EXAMPLES = Path("/usr/share/doc/kamailio/examples")

if not STOCK_CFG.exists() or not EXAMPLES.is_dir():
    pytest.skip("Kamailio (with its examples) is not installed", allow_module_level=True)

EXPECTED_TO_PARSE = [
    "exec/exec.cfg",
    "exec/exec_dist.cfg",
    "exec/exec_s2.cfg",
    "exec/exec_s3.cfg",
    "exec/exec_s4.cfg",
    "ims/icscf/icscf.cfg.sample",
    "ims/pcscf/pcscf.cfg.sample",
    "ims/pcscf/route/mo.cfg",
    "ims/pcscf/route/mt.cfg",
    "ims/pcscf/route/register.cfg",
    "ims/pcscf/route/rtp.cfg",
    "ims/pcscf/route/xmlrpc.cfg",
    "ims/scscf/scscf.cfg.sample",
    "kamailio/acc-mysql.cfg",
    "kamailio/acc.cfg",
    "kamailio/exec_s3.cfg",
    "kamailio/exec_s4.cfg",
    "kamailio/flag_reply.cfg",
    "kamailio/fork.cfg",
    "kamailio/logging.cfg",
    "kamailio/msilo.cfg",
    "kamailio/nathelper.cfg",
    "kamailio/pstn.cfg",
    "kamailio/redirect.cfg",
    "kamailio/replicate.cfg",
    "kamailio/serial_183.cfg",
    "mixed/ccdiversion.cfg",
    "mixed/kamailio-minimal-anycast.cfg",
    "mixed/kamailio-minimal-proxy.cfg",
    "mixed/logging.cfg",
    "mixed/msilo.cfg",
    "mixed/onr.cfg",
    "mixed/redirect.cfg",
    "mixed/uas.cfg",
    "mixed/vm_proxy.cfg",
    "mixed/xhttp.cfg",
    "outbound/edge.cfg",
    "outbound/edge_websocket.cfg",
    "outbound/registrar.cfg",
    "pkg/kamailio-basic.cfg",
    "pkg/kamailio-oob.cfg",
    "pkg/sipcapture.cfg",
    "webrtc/kamailio-default-websocket.cfg",
    "webrtc/websocket.cfg",
]

# Kamailio 5.6 rejects these two for their unbalanced preprocessor directives ("different number of
# preprocessor directives"), and so must kampy.
UNBALANCED_DIRECTIVES = {
    "pkg/sip-router-basic.cfg": "#!endif without a matching",
    "pkg/sip-router-oob.cfg": "is never closed",
}


def _stock_defines() -> list[str]:
    text = STOCK_CFG.read_text(encoding="utf-8", errors="replace")
    return sorted(set(re.findall(r"^#!ifn?def\s+(WITH_\w+)", text, re.MULTILINE)))


@pytest.mark.parametrize("define", [None, *_stock_defines()])
def test_stock_kamailio_cfg_parses(define: str | None) -> None:
    # the database features take DBURL from WITH_MYSQL: without it Kamailio refuses them too
    pp = preprocess_file(STOCK_CFG, {define: None, "WITH_MYSQL": None} if define else {})
    config = parse(pp.text, str(STOCK_CFG), pp.origin)
    assert any(item.__class__.__name__ == "Route" for item in config.items)


def _preprocess_example(name: str):
    path = EXAMPLES / name
    if path.exists():
        return path, preprocess_file(path)
    packed = path.with_name(path.name + ".gz")
    if not packed.exists():
        pytest.fail(f"{name} is not shipped here any more (looked for {path} and {packed})")
    text = gzip.open(packed, "rt", encoding="utf-8", errors="replace").read()
    return path, preprocess_text(text, str(path), base_dir=path.parent)


@pytest.mark.parametrize("name", EXPECTED_TO_PARSE)
def test_debian_example_parses(name: str) -> None:
    path, pp = _preprocess_example(name)
    parse(pp.text, str(path), pp.origin)


@pytest.mark.parametrize("name", sorted(UNBALANCED_DIRECTIVES))
def test_debian_example_with_unbalanced_directives_is_rejected_like_kamailio(name: str) -> None:
    with pytest.raises(ConfigError, match=UNBALANCED_DIRECTIVES[name]):
        _preprocess_example(name)
