from kampy.api import reverse_hex


def test_reverse_hex_prints_the_least_significant_digit_first():
    assert reverse_hex(0x1A2B) == "b2a1"


def test_reverse_hex_of_zero_is_one_digit():
    assert reverse_hex(0) == "0"
