"""msilo's parameters and start-up (spec §2 and §1): defaults, validations, the database checks."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kampy.config.pipeline import load_text
from kampy.db import connect, create_tables
from kampy.errors import ConfigError
from kampy.runtime.server import Server
from kampy.modules.msilo import EXPORTS
from kampy.modules.msilo.rules import parse_send_time
from tests.support.msilo import BOB, SOCKET, cfg_text, make_silo, message, register


def start(tmp_path: Path, params: dict, url: str | None = None) -> Server:
    text = cfg_text(tmp_path, url or f"sqlite://{tmp_path}/silo.db", params)
    return Server.from_config(load_text(text, "p.cfg"), sockets=[SOCKET])


def test_defaults_follow_the_seed_except_sc_mid() -> None:
    defaults = {p.name: p.default for p in EXPORTS.params}
    assert defaults["sc_mid"] == "id"
    assert (defaults["check_time"], defaults["clean_period"], defaults["expire_time"]) == (30, 5, 259200)
    assert (defaults["use_contact"], defaults["add_date"], defaults["skip_notification_flag"]) == (1, 1, -1)
    assert defaults["sc_stored_hdrs"] == "extra_hdrs"
    assert defaults["sc_status"] == "status"
    assert len(EXPORTS.params) == 32


@pytest.mark.parametrize(("params", "words"), [
    ({"check_time": 0}, "check_time must be greater than 0"),
    ({"clean_period": -1}, "clean_period must be greater than 0"),
    ({"skip_notification_flag": 32}, "skip_notification_flag"),
    ({"skip_notification_flag": -2}, "skip_notification_flag"),
    ({"snd_time_avp": "$var(x)"}, "snd_time_avp must be an AVP spec"),
    ({"extra_hdrs_avp": "not a pv"}, "extra_hdrs_avp must be an AVP spec"),
    ({"offline_message": "offline"}, "content_type_hdr"),
    ({"from_address": "sip:$(bad"}, "from_address"),
])
def test_invalid_values_stop_the_start_with_clear_words(tmp_path: Path, params: dict, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        start(tmp_path, params)
    assert words in str(err.value)


def test_the_embedded_default_creates_the_sqlite_file_and_says_so(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        start(tmp_path, {})
    assert (tmp_path / "silo.db").exists()
    assert "created it with the standard tables" in caplog.text


def test_a_mysql_database_without_the_table_is_a_start_error_naming_kampy_db_create(tmp_path: Path,
                                                                                    mysql_url: str) -> None:
    with pytest.raises(ConfigError) as err:
        start(tmp_path, {}, mysql_url)
    assert "kampy db create" in str(err.value)
    with connect(mysql_url) as db:
        assert not db.table_exists("silo")  # never changed by msilo


def test_a_wrong_table_version_is_a_start_error(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/silo.db"
    with connect(url) as db:
        create_tables(db)
        db.update("version", {"table_name": "silo"}, {"table_version": 7})
    with pytest.raises(ConfigError) as err:
        start(tmp_path, {}, url)
    assert "version 7" in str(err.value)


def test_column_and_table_names_come_from_the_params(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/silo.db"
    with connect(url) as db:
        create_tables(db, ["silo"])
        db.execute("CREATE TABLE inbox (mid INTEGER PRIMARY KEY, sa TEXT, da TEXT, u TEXT, d TEXT, b BLOB, "
                   "ct TEXT, et INTEGER, it INTEGER, st INTEGER, xh TEXT, cl INTEGER NOT NULL DEFAULT 0)")
        db.insert("version", {"table_name": "inbox", "table_version": 8})
    params = {"db_table": "inbox", "sc_mid": "mid", "sc_from": "sa", "sc_to": "da", "sc_uri_user": "u",
              "sc_uri_host": "d", "sc_body": "b", "sc_ctype": "ct", "sc_exp_time": "et", "sc_inc_time": "it",
              "sc_snd_time": "st", "sc_stored_hdrs": "xh", "sc_status": "cl",
              "outbound_proxy": "sip:127.0.0.1"}
    s = make_silo(tmp_path, url, params)
    assert s.send(message("renamed")) == 202
    assert s.module.db.raw_query("SELECT u, d, b FROM inbox") == [("bob", "example.test", b"renamed")]
    s.send(register(), BOB)
    s.sent[0].reply(200)
    assert s.module.db.raw_query("SELECT * FROM inbox") == []


def test_a_table_without_the_claims_column_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        start(tmp_path, {"sc_status": "lease"})
    assert "no column 'lease' (sc_status)" in str(err.value)


def test_a_column_name_that_is_not_an_identifier_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        start(tmp_path, {"sc_body": "body; DROP TABLE silo"})
    assert "invalid table or column name" in str(err.value)


def test_pvs_are_expanded_against_the_message(tmp_path: Path) -> None:
    s = make_silo(tmp_path, f"sqlite://{tmp_path}/silo.db", {
        "from_address": "sip:$rU-bot@example.test", "offline_message": "*** $rU off, from $fU",
        "content_type_hdr": "Content-Type: text/$var(kind)\r\n", "contact_hdr": "Contact: <sip:$fU@x>\r\n"},
        pre_store='$var(kind) = "plain";')
    s.send(message())
    (n,) = s.sent
    assert (n.from_uri, n.body) == ("sip:bob-bot@example.test", b"*** bob off, from alice")
    assert n.headers == "Contact: <sip:alice@x>\r\nContent-Type: text/plain\r\n"


@pytest.mark.parametrize(("text", "fields"), [  # fields as mktime gets them, DST off
    ("20240101000000", (2024, 1, 1, 0, 0, 0)),
    ("20240230120000", (2024, 3, 1, 12, 0, 0)),   # impossible dates move forward, as mktime does
    ("2024031", (2024, 3, 10, 0, 0, 0)),         # a lone tens digit of the day counts as tens
    ("202403", (2024, 2, 29, 0, 0, 0)),          # day 0 = the last day of the month before
])
def test_send_time_is_read_as_local_time_like_mktime(text: str, fields: tuple) -> None:
    import time
    assert parse_send_time(text) == int(time.mktime(fields + (0, 0, 0)))


@pytest.mark.parametrize("text", ["", "1999", "20241301", "20240132", "20240101250000", "20240101006000",
                                  "20240101000060", "202401010000001", "2024-1-1"])
def test_invalid_send_times_are_refused(text: str) -> None:
    assert parse_send_time(text) is None
