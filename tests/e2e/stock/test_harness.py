"""The stock-config harness itself: two runs of Kamailio leave rows the comparison finds equal, a
changed field is reported, the user agents' digest answers (MD5 and SHA-256, qop=auth, nonce counts)
are those Kamailio accepts, and the ALTER TABLEs of WITH_ACCDB come from the stock config."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.stock import rows
from kampy.testing.digest import Challenge
from tests.e2e.stock.scenario import assert_same
from tests.e2e.stock.test_stock_calls import test_a_call_and_a_missed_call_leave_kamailios_accounting_rows
from tests.e2e.stock.world import DOMAIN, STOCK_DIR, Outcome, Play, Stock, accdb_statements

DIGEST_CFG = (Path(__file__).resolve().parent / "configs" / "digest.cfg").read_text()


def test_two_runs_of_kamailio_leave_the_same_rows_and_observations(stock_play: Play) -> None:
    body = test_a_call_and_a_missed_call_leave_kamailios_accounting_rows.scenario
    first, second = stock_play.play("kamailio", body), stock_play.play("kamailio", body)
    assert {"acc", "missed_calls", "location", "subscriber"} <= set(first.rows)
    assert_same(first, second)


def test_a_field_that_differs_is_reported_and_ids_times_and_volatile_columns_are_not() -> None:
    row = {"id": 1, "ruid": "uloc-1", "username": "alice", "contact": "sip:alice@127.0.0.10:5070",
           "expires": "2030-01-01 00:00:00", "last_modified": "2024-01-01 00:00:00", "cseq": 2}
    other = {**row, "id": 7, "ruid": "uloc-9", "expires": "2031-01-01 00:00:00", "last_modified": "x"}
    assert rows.differences({"location": [row]}, {"location": [other]}) == []
    changed = {**row, "cseq": 3}
    assert rows.differences({"location": [row]}, {"location": [changed]}) == [
        "table location: 1 rows in the reference, 1 in the candidate",
        "  only in reference: {'username': 'alice', 'contact': 'sip:alice@127.0.0.10:5070', 'cseq': 2}",
        "  only in candidate: {'username': 'alice', 'contact': 'sip:alice@127.0.0.10:5070', 'cseq': 3}"]
    assert rows.differences({"location": [row]}, {}) != []


def test_observations_that_differ_fail_the_comparison() -> None:
    with pytest.raises(AssertionError, match="observation replies: kamailio .*401.*, kampy .*403"):
        assert_same(Outcome("kamailio", {}, {"replies": [401, 200]}),
                    Outcome("kampy", {}, {"replies": [403]}))


def test_the_accdb_columns_are_the_stock_configs() -> None:
    statements = accdb_statements((STOCK_DIR / "kamailio.cfg").read_text())
    assert len(statements) == 12
    assert statements[0] == "ALTER TABLE acc ADD COLUMN src_user VARCHAR(64) NOT NULL DEFAULT ''"
    assert statements[-1] == "ALTER TABLE missed_calls ADD COLUMN dst_domain VARCHAR(128) NOT NULL DEFAULT ''"


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_the_user_agents_digest_answers_with_qop_and_nonce_counts_are_kamailios(stock_play: Play,
                                                                               algorithm: str) -> None:
    def body(stock: Stock) -> None:
        stock.add_user("alice", "alice-pw")
        stock.start(f'AUTH_ALGORITHM="{algorithm}"')
        alice = stock.ua("alice")
        first = alice.send_request("REGISTER", f"sip:{DOMAIN}", to=alice.aor)
        challenge_reply = alice.final(first)
        challenge = Challenge.parse(challenge_reply.header("www-authenticate") or "")
        assert (challenge_reply.status, challenge.algorithm, challenge.qop) == (401, algorithm, ("auth",))
        answered = alice.resend_with_credentials(first, challenge_reply)
        assert b"nc=00000001" in answered.data and b"qop=auth" in answered.data
        assert alice.final(answered).status == 200
        # the same nonce again with the next count is accepted without a new challenge
        again = alice.resend_with_credentials(answered, challenge_reply)
        assert b"nc=00000002" in again.data
        assert alice.final(again).status == 200
        # a replayed count is refused
        alice.credentials.counts[challenge.nonce] = 0  # type: ignore[union-attr]
        replay = alice.resend_with_credentials(again, challenge_reply)
        assert b"nc=00000001" in replay.data
        assert alice.final(replay).status == 401

    stock_play.play("kamailio", body, config=DIGEST_CFG)
