import pytest

from kampy.api import core_hash, hash2_raw, reverse_hex


def test_reverse_hex_prints_the_least_significant_digit_first():
    assert reverse_hex(0x1A2B) == "b2a1"


def test_reverse_hex_of_zero_is_one_digit():
    assert reverse_hex(0) == "0"


@pytest.mark.parametrize(("call_id", "cseq", "branch_hash"), [
    ("c1", "1", "e9f6"),
    ("a84b4c76e66710@pc33.atlanta.example.com", "314159", "2606"),
    ("caf\u00e9-\u00fc\u00df-42@h\u00f6st", "7", "8aca"),  # bytes >= 0x80: Kamailio reads signed chars
])
def test_hash2_raw_gives_the_hash_kamailio_prints_in_a_stateless_branch(call_id: str, cseq: str,
                                                                        branch_hash: str) -> None:
    # the first part of `z9hG4bK<hash>.<md5>.0` in requests forward()ed by Kamailio 5.6.3
    assert reverse_hex(hash2_raw(call_id, cseq) & 0xFFFF) == branch_hash


@pytest.mark.parametrize(("text", "value"), [
    ("a84b4c76e66710@pc33.atlanta.example.com", 1775879166),
    ("sip:alice-\u00e9@example.com", 684538048),
])
def test_core_hash_gives_what_kamailio_prints_for_s_corehash(text: str, value: int) -> None:
    # xlog("$(ci{s.corehash})") and $(fu{s.corehash}) in Kamailio 5.6.3
    assert core_hash(text) == value
