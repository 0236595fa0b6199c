"""presence's other config functions, RPC commands and parameters, in-process: pres_auth_status,
pres_has_subscribers, pres_refresh_watchers (pidf-manipulation too), the presence.* commands and
their faults, watcher info, URI matching, the order of aggregated documents, library mode."""

from __future__ import annotations

import pytest

from kampy.api import RpcFault
from kampy.errors import ConfigError
from kampy.testing import Harness
from tests.presence_helpers import CFG, DOMAIN, load, notifies, pidf, publish, subscribe, watcher

ALICE = f"sip:alice@{DOMAIN}"
XCAP = {"force_active": 0, "integrated_xcap_server": 1}

FUNCTIONS_CFG = CFG.replace(
    "request_route {",
    """request_route {
    if (is_method("MESSAGE")) {
        if ($hdr(X-Do) == "auth") {
            pres_auth_status("$fu", "$ru");
        } else if ($hdr(X-Do) == "has") {
            pres_has_subscribers("$ru", "$hdr(X-Event)");
        } else if ($hdr(X-Do) == "refresh") {
            pres_refresh_watchers("$ru", "presence", "$hdr(X-Type)");
        } else if ($hdr(X-Do) == "refresh-file") {
            pres_refresh_watchers("$ru", "presence", "2", "$hdr(X-File)", "$hdr(X-Name)");
        }
        sl_send_reply("200", "rc=$rc");
        exit;
    }""",
)


def call(sip: Harness, what: str, from_user: str = "bob", **headers: str) -> str:
    hdrs = {"X-Do": what, **{k.replace("_", "-"): v for k, v in headers.items()}}
    result = sip.send_request("MESSAGE", ALICE, from_=f"sip:{from_user}@{DOMAIN}", body="x", headers=hdrs)
    return str(result.replies[-1].msg.reason)


@pytest.fixture
def sip() -> Harness:
    with load(FUNCTIONS_CFG) as harness:
        yield harness


def test_pres_auth_status_is_pending_without_a_rules_document_even_with_force_active(sip: Harness) -> None:
    assert call(sip, "auth") == "rc=2"  # as Kamailio's: force_active gives no rules document


def test_pres_auth_status_follows_the_xcap_rules() -> None:
    doc = (
        b'<?xml version="1.0"?><cr:ruleset xmlns:cr="urn:ietf:params:xml:ns:common-policy" '
        b'xmlns:pr="urn:ietf:params:xml:ns:pres-rules"><cr:rule id="1"><cr:conditions><cr:identity>'
        b'<cr:one id="sip:bob@127.0.0.1"/></cr:identity></cr:conditions><cr:actions>'
        b"<pr:sub-handling>polite-block</pr:sub-handling></cr:actions></cr:rule></cr:ruleset>"
    )
    with load(FUNCTIONS_CFG, presence_xml=XCAP) as sip:
        assert call(sip, "auth") == "rc=2"  # no rules: pending
        sip.tables["xcap"].insert(
            {
                "username": "alice",
                "domain": DOMAIN,
                "doc": doc,
                "doc_type": 2,
                "etag": "e",
                "source": 1,
                "doc_uri": "/pres-rules/alice",
                "port": 0,
            }
        )
        assert call(sip, "auth") == "rc=5"  # polite-block
        assert call(sip, "auth", from_user="carol") == "rc=3"  # no rule for carol: terminated


def test_pres_has_subscribers_counts_the_presentitys_dialogs_of_the_event(sip: Harness) -> None:
    assert call(sip, "has", X_Event="presence") == "rc=-1"
    subscribe(watcher(sip, "bob", 5011), ALICE)
    assert call(sip, "has", X_Event="presence") == "rc=1"
    assert call(sip, "has", X_Event="presence.winfo") == "rc=-1"
    assert call(sip, "has", X_Event="message-summary") == "rc=-1"


def test_pres_refresh_watchers_type_1_notifies_the_state_stored_in_the_table() -> None:
    with load(FUNCTIONS_CFG, presence={"publ_cache": 0}) as sip:  # 1 would not know of the row
        _refresh_type_1(sip)


def _refresh_type_1(sip: Harness) -> None:
    bob = watcher(sip, "bob", 5011)
    subscribe(bob, ALICE)
    sip.tables["presentity"].insert(
        {
            "username": "alice",
            "domain": DOMAIN,
            "event": "presence",
            "etag": "x.1",
            "expires": 2_000_000_000,
            "received_time": 1,
            "body": pidf(ALICE, "closed").encode(),
            "sender": "",
            "priority": 0,
            "ruid": "r",
        }
    )
    assert call(sip, "refresh", X_Type="1") == "rc=1"
    assert notifies(bob)[-1].msg.body == pidf(ALICE, "closed").encode()


def test_pres_refresh_watchers_type_2_needs_the_file_arguments(sip: Harness) -> None:
    assert call(sip, "refresh", X_Type="2") == "rc=-1"


def test_pres_refresh_watchers_type_2_stores_the_pidf_manipulation_document() -> None:
    with load(FUNCTIONS_CFG, presence_xml=XCAP) as sip:
        sip.tables["xcap"].insert(
            {
                "username": "alice",
                "domain": DOMAIN,
                "doc": pidf(ALICE, "open", "hard").encode(),
                "doc_type": 16,
                "etag": "e",
                "source": 1,
                "doc_uri": "/pidf/alice",
                "port": 0,
            }
        )
        assert call(sip, "refresh-file", X_File="/pidf/alice", X_Name="index") == "rc=1"
        [row] = sip.tables["presentity"].rows()
        assert (row["etag"], row["expires"], row["body"]) == (
            "index",
            -1,
            pidf(ALICE, "open", "hard").encode(),
        )


def test_presence_refresh_watchers_over_rpc(sip: Harness) -> None:
    bob = watcher(sip, "bob", 5011)
    subscribe(bob, ALICE)
    assert sip.rpc("presence.refreshWatchers", [ALICE, "presence", 1]) is None
    assert len(notifies(bob)) == 2


@pytest.mark.parametrize(
    ("params", "fault"),
    [
        ([ALICE, "presence"], "Not enough parameters"),
        (["", "presence", 1], "Empty presentity URI"),
        ([ALICE, "", 1], "Empty event parameter"),
        ([ALICE, "presence", 2], "No file uri or name parameters"),
        ([ALICE, "presence", 2, "", "x"], "Empty file uri parameter"),
        ([ALICE, "presence", 2, "/f", ""], "Empty file name parameter"),
        ([ALICE, "nonsense", 1], "Execution failed"),
    ],
)
def test_presence_refresh_watchers_faults(sip: Harness, params: list[object], fault: str) -> None:
    with pytest.raises(RpcFault) as caught:
        sip.rpc("presence.refreshWatchers", params)
    assert (caught.value.code, caught.value.message) == (500, fault)


@pytest.mark.parametrize(
    ("params", "fault"),
    [
        ([ALICE], "Not enough parameters"),
        (["", "presence"], "Empty presentity URI"),
        ([ALICE, ""], "Empty event parameter"),
        ([ALICE, "presence"], "Processing error"),  # force_active: no rules document
    ],
)
def test_presence_update_watchers_faults(sip: Harness, params: list[object], fault: str) -> None:
    with pytest.raises(RpcFault) as caught:
        sip.rpc("presence.updateWatchers", params)
    assert (caught.value.code, caught.value.message) == (500, fault)


def test_presence_cleanup_runs_the_cleaning_now(sip: Harness) -> None:
    publish(sip, "alice", pidf(ALICE), expires=5)
    sip.advance(10)
    assert sip.tables["presentity"].count() == 1
    assert sip.rpc("presence.cleanup") == "Reload OK"
    assert sip.tables["presentity"].count() == 0


def test_presence_presentity_list_is_empty_without_publ_cache_2(sip: Harness) -> None:
    publish(sip, "alice", pidf(ALICE))
    assert sip.rpc("presence.presentity_list") == []


def test_a_watcher_info_subscriber_gets_the_watchers_full_then_partial(sip: Harness) -> None:
    alice = watcher(sip, "alice", 5010)
    subscribe(alice, ALICE, event="presence.winfo")
    [full] = notifies(alice)
    assert full.msg.header("content-type") == "application/watcherinfo+xml"
    assert full.msg.body == (
        b'<?xml version="1.0"?>\n<watcherinfo xmlns="urn:ietf:params:xml:ns:watcherinfo" '
        b'version="1" state="full">\n  <watcher-list resource="sip:alice@127.0.0.1" '
        b'package="presence"/>\n</watcherinfo>\n'
    )
    bob = subscribe(watcher(sip, "bob", 5011), ALICE)
    partial = notifies(alice)[-1]
    assert partial.msg.body.decode() == (
        '<?xml version="1.0"?>\n<watcherinfo xmlns="urn:ietf:params:xml:ns:watcherinfo" version="2" '
        'state="partial">\n  <watcher-list resource="sip:alice@127.0.0.1" package="presence">\n'
        f'    <watcher id="{bob.request.call_id}" event="subscribe" status="active">'
        "sip:bob@127.0.0.1</watcher>\n"
        "  </watcher-list>\n</watcherinfo>\n"
    )


def test_sip_uri_match_1_compares_presentity_uris_without_case() -> None:
    cfg = CFG.replace("handle_subscribe();", 'handle_subscribe("sip:BOB@127.0.0.1");')
    with load(cfg, presence={"sip_uri_match": 1}) as sip:
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE)
        publish(sip, "alice", pidf(ALICE))
        assert len(notifies(bob)) == 2


def test_retrieve_order_1_aggregates_by_the_priority_the_xavp_gave() -> None:
    cfg = CFG.replace(
        "handle_publish();", "$xavp(pres=>priority) = $(hdr(X-Priority){s.int}); handle_publish();"
    )
    with load(cfg, presence={"xavp_cfg": "pres", "retrieve_order": 1}) as sip:
        for tuple_id, priority in (("high", "9"), ("low", "1")):
            aor = ALICE
            sip.send_request(
                "PUBLISH",
                aor,
                from_=aor,
                to=aor,
                body=pidf(ALICE, "open", tuple_id),
                headers={"Event": "presence", "Expires": "600", "X-Priority": priority},
                content_type="application/pidf+xml",
            )
        rows = {r["etag"]: r["priority"] for r in sip.tables["presentity"].rows()}
        assert sorted(rows.values()) == [1, 9]
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE)
        body = notifies(bob)[0].msg.body.decode()
        # the last document read (the highest priority) is the base, the others appended
        assert body.index('id="high"') < body.index('id="low"')


def test_without_db_url_presence_is_a_library_and_its_functions_refuse_to_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = CFG.replace(
        'modparam("presence", "db_url", "mysql://kamailio:kamailiorw@localhost/kamailio")\n', ""
    )
    with load(cfg, db=None) as sip:
        assert sip.module("presence").library_mode
        bob = watcher(sip, "bob", 5011)
        result = bob.send_request(
            "SUBSCRIBE", ALICE, to=ALICE, headers={"Event": "presence"}, contact=f"<{bob.contact}>"
        )
        assert result.replies == []
        assert "Bad config - you can not call 'handle_subscribe' function (db_url not set)" in caplog.text


def test_without_db_url_a_call_with_an_argument_is_a_config_error() -> None:
    cfg = CFG.replace(
        'modparam("presence", "db_url", "mysql://kamailio:kamailiorw@localhost/kamailio")\n', ""
    )
    with pytest.raises(ConfigError, match="db_url not set"):
        load(cfg.replace("handle_publish();", 'handle_publish("sip:x@y");'), db=None)


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"min_expires_action": 3}, "min_expires_action"),
        ({"enable_dmq": 1}, "dmq"),
        ({"local_log_facility": "LOG_NOPE"}, "invalid log facility"),
        ({"timer_mode": 2}, "timer_mode"),
    ],
)
def test_parameters_kamailio_refuses_are_refused(params: dict[str, object], words: str) -> None:
    with pytest.raises((ConfigError, ValueError), match=words):
        load(presence=params)
