"""The 7bit, base58, fmtline and urialias transformations, byte for byte as Kamailio 5.6's (values
checked against Kamailio by tests/e2e/test_pv_more_e2e.py)."""
from __future__ import annotations

from tests.pv_helpers import get, make_ctx


def tr(value: str, chain: str) -> object:
    ctx = make_ctx()
    ctx.avps["v"] = [value]
    return get(ctx, f"$(avp(v){chain})")


def test_encode_7bit_packs_septets_as_upper_case_hex() -> None:
    assert tr("hello", "{s.encode.7bit}") == "E8329BFD06"


def test_decode_7bit_unpacks_them() -> None:
    assert tr("Hello world, 12345678!", "{s.encode.7bit}{s.decode.7bit}") == "Hello world, 12345678!"


def test_encode_base58() -> None:
    assert tr("Hello world, 12345678!", "{s.encode.base58}") == "LeeeSYTFHFt2p9LbztuXa3qjtUB3UU"


def test_decode_base58_keeps_kamailios_extra_ending_zero() -> None:
    assert tr("LeeeSYTFHFt2p9LbztuXa3qjtUB3UU", "{s.decode.base58}") == "Hello world, 12345678!\0"


def test_decode_base58_of_an_invalid_digit_fails() -> None:
    assert tr("0OIl", "{s.decode.base58}") is None


def test_fmtlines_breaks_before_offsets_1_to_n_minus_1_as_kamailio_5_6() -> None:
    assert tr("Hello", "{s.fmtlines,3,2}") == "H\r\n  e\r\n  llo"


def test_fmtlinet_fills_with_tabs() -> None:
    assert tr("Hello", "{s.fmtlinet,2,1}") == "H\r\n\tello"


def test_fmtlines_with_a_zero_line_length_fails() -> None:
    assert tr("Hello", "{s.fmtlines,0,2}") is None


def test_urialias_encode_is_host_port_proto() -> None:
    assert tr("sip:10.0.0.1:5070;transport=tcp", "{urialias.encode}") == "10.0.0.1~5070~2"


def test_urialias_encode_defaults_port_and_udp() -> None:
    assert tr("sip:alice@h.example", "{urialias.encode}") == "h.example~5060~1"


def test_urialias_decode_of_udp_has_no_transport() -> None:
    assert tr("10.0.0.1~5070~1", "{urialias.decode}") == "sip:10.0.0.1:5070"


def test_urialias_decode_names_other_transports() -> None:
    assert tr("10.0.0.1~5071~3", "{urialias.decode}") == "sip:10.0.0.1:5071;transport=tls"
