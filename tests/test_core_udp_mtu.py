"""udp_mtu / udp_mtu_try_proto (parameters and function): a request relayed over UDP that is longer
than udp_mtu goes over TCP instead, as Kamailio's build_req_buf_from_sip_req() does (seen on the wire
with Kamailio 5.6.3: tests/e2e... below compares one case)."""
from __future__ import annotations

from typing import Any

import pytest

from kampy.errors import ConfigError

CFG = """
%s
loadmodule "tm.so"
loadmodule "sl.so"
request_route {
    %s
    %s("127.0.0.1", 5090);
    exit;
}
"""
BIG = "x" * 600


def sent_over(kampy_cfg: Any, params: str, call: str = "", relay: str = "forward", body: str = BIG) -> str:
    cfg = kampy_cfg(CFG % (params, call, "t_relay_to_udp" if relay == "tm" else relay))
    result = cfg.send_request("MESSAGE", "sip:bob@example.test", body=body, content_type="text/plain")
    out = [s for s in result.forwarded if s.port == 5090]
    assert len(out) == 1
    assert (f"SIP/2.0/{out[0].proto.upper()} ".encode() in out[0].data.split(b"\r\n", 2)[1])
    return out[0].proto


def test_a_request_longer_than_udp_mtu_goes_over_the_parameters_protocol(kampy_cfg: Any) -> None:
    assert sent_over(kampy_cfg, "udp_mtu=500\nudp_mtu_try_proto=TCP") == "tcp"


def test_a_request_within_udp_mtu_stays_on_udp(kampy_cfg: Any) -> None:
    assert sent_over(kampy_cfg, "udp_mtu=500\nudp_mtu_try_proto=TCP", body="short") == "udp"


def test_without_a_protocol_to_try_udp_mtu_changes_nothing(kampy_cfg: Any) -> None:
    assert sent_over(kampy_cfg, "udp_mtu=500") == "udp"


def test_the_function_sets_the_protocol_for_its_message(kampy_cfg: Any) -> None:
    assert sent_over(kampy_cfg, "udp_mtu=500", "udp_mtu_try_proto(TCP);") == "tcp"


def test_tm_branches_switch_too(kampy_cfg: Any) -> None:
    assert sent_over(kampy_cfg, "udp_mtu=500\nudp_mtu_try_proto=TCP", relay="tm") == "tcp"


def test_a_bad_protocol_word_is_refused_at_load(kampy_cfg: Any) -> None:
    with pytest.raises(ConfigError, match=r":6:5: error: udp_mtu_try_proto\(\): bad argument"):
        kampy_cfg(CFG % ("", "udp_mtu_try_proto(foo);", "forward"))
