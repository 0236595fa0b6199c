"""presence_xml, in-process: its event packages, PIDF bodies (aggregated, withdrawn, the dummy one,
the single body), authorization by XCAP pres-rules read from the xcap table, pres_check_basic and
pres_check_activities, and its parameters."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kampy.errors import ConfigError
from kampy.testing import Harness
from kampy.modules.presence_xml import pidf as pidf_bodies
from tests.presence_helpers import CFG, DOMAIN, load, notifies, pidf, publish, subscribe, watcher
from tests.support import libxml2_oracle as oracle

ALICE = f"sip:alice@{DOMAIN}"
XCAP = {"force_active": 0, "integrated_xcap_server": 1}


def rules(*rules_xml: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<cr:ruleset xmlns="urn:ietf:params:xml:ns:pres-rules" '
        'xmlns:pr="urn:ietf:params:xml:ns:pres-rules" xmlns:cr="urn:ietf:params:xml:ns:common-policy">\n'
        + "".join(rules_xml)
        + "</cr:ruleset>\n"
    ).encode()


def rule(rid: str, identity: str, handling: str, transformations: str = "") -> str:
    return (
        f'  <cr:rule id="{rid}">\n    <cr:conditions><cr:identity>{identity}</cr:identity></cr:conditions>\n'
        f"    <cr:actions><pr:sub-handling>{handling}</pr:sub-handling></cr:actions>\n"
        + (f"    <cr:transformations>{transformations}</cr:transformations>\n" if transformations else "")
        + "  </cr:rule>\n"
    )


def store_rules(sip: Harness, doc: bytes, user: str = "alice") -> None:
    sip.tables["xcap"].delete({"username": user})
    sip.tables["xcap"].insert(
        {
            "username": user,
            "domain": DOMAIN,
            "doc": doc,
            "doc_type": 2,
            "etag": "e1",
            "source": 1,
            "doc_uri": f"/pres-rules/users/sip:{user}@{DOMAIN}/index",
            "port": 0,
        }
    )


# ---------------------------------------------------------------- packages


def test_the_packages_are_presence_winfo_and_xcap_diff_by_default() -> None:
    with load() as sip:
        assert sip.module("presence").events.names() == ["xcap-diff", "presence.winfo", "presence"]


@pytest.mark.parametrize(
    ("param", "names"),
    [
        ("disable_presence", ["xcap-diff", "presence.winfo"]),
        ("disable_winfo", ["xcap-diff", "presence"]),
        ("disable_xcapdiff", ["presence.winfo", "presence"]),
    ],
)
def test_a_disabled_package_is_not_added(param: str, names: list[str]) -> None:
    with load(presence_xml={param: 1}) as sip:
        assert sip.module("presence").events.names() == names


def test_disable_bla_0_adds_dialog_sla() -> None:
    with load(presence_xml={"disable_bla": 0}) as sip:
        assert sip.module("presence").events.names()[0] == "xcap-diff"
        assert "dialog;sla" in sip.module("presence").events.names()
        bob = watcher(sip, "bob", 5011)
        assert subscribe(bob, ALICE, event="dialog;sla").status == 200


def test_passive_mode_adds_no_package() -> None:
    with load(presence_xml={"passive_mode": 1}) as sip:
        assert sip.module("presence").events.names() == []
        assert subscribe(watcher(sip, "bob", 5011), ALICE).status == 489


def test_without_force_active_an_external_xcap_server_needs_xcap_client() -> None:
    with pytest.raises(ConfigError, match="xcap_client"):
        load(presence_xml={"force_active": 0, "xcap_server": "xcap.example.com:8000"})


def test_an_xcap_server_with_a_bad_port_is_refused() -> None:
    with pytest.raises(ValueError, match="wrong port number"):
        load(presence_xml={"xcap_server": "xcap.example.com:99999"})


def test_default_expires_is_the_expiry_of_a_subscribe_without_expires() -> None:
    with load(presence_xml={"default_expires": 900}) as sip:
        assert subscribe(watcher(sip, "bob", 5011), ALICE, expires=None).header("expires") == "900"


# ---------------------------------------------------------------- bodies


def test_force_dummy_presence_shows_a_presentity_without_publication_open() -> None:
    with load(presence_xml={"force_dummy_presence": 1}) as sip:
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE)
        body = notifies(bob)[0].msg.body
        assert body == oracle.dump(pidf_bodies.EMPTY_BODY.format(entity="alice").encode())
        assert b"<basic>open</basic>" in body and b"<dm:note>Available</dm:note>" in body


def test_force_presence_single_body_sends_the_document_of_the_highest_priority() -> None:
    with load(presence_xml={"force_presence_single_body": 1}) as sip:
        publish(sip, "alice", pidf(ALICE, "open", "phone", note="On the Phone"))
        sip.advance(1)
        publish(sip, "alice", pidf(ALICE, "open", "laptop", note="Available"))
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE)
        body = notifies(bob)[0].msg.body.decode()
        assert 'id="phone"' in body and 'id="laptop"' not in body


def _single_body_winner(sip: Harness, *notes: str | None, element: str = "note") -> str:
    """Publish one document per note (oldest first, `element` holding the note), subscribe; the
    tuple id of the document the NOTIFY carries."""
    for i, note in enumerate(notes):
        extra = (
            "" if note is None else (f"  <{element}>{note}</{element}>\n" if note else f"  <{element}/>\n")
        )
        publish(sip, "alice", pidf(ALICE, "open", f"t{i}", extra=extra))
        sip.advance(1)
    bob = watcher(sip, "bob", 5011)
    subscribe(bob, ALICE)
    body = notifies(bob)[0].msg.body.decode()
    [tuple_id] = re.findall(r'<tuple id="(t\d)"', body)
    return tuple_id


def test_presence_single_body_priorities_rank_the_documents_by_their_note() -> None:
    params = {"force_presence_single_body": 1, "presence_single_body_priorities": "Busy|Away|Available"}
    with load(presence_xml=params) as sip:
        assert _single_body_winner(sip, "Away", "Available", "Busy") == "t1"


def test_a_note_not_among_the_priorities_loses_to_a_listed_one() -> None:
    with load(presence_xml={"force_presence_single_body": 1}) as sip:
        assert _single_body_winner(sip, "Ringing", "Out to lunch") == "t0"


def test_without_a_lookup_element_in_the_newest_document_the_newest_is_sent() -> None:
    with load(presence_xml={"force_presence_single_body": 1}) as sip:
        assert _single_body_winner(sip, "On the Phone", None) == "t1"


def test_an_empty_lookup_element_in_the_newest_document_keeps_the_newest() -> None:
    # Kamailio reads the element's first child: none, so no comparison is made
    with load(presence_xml={"force_presence_single_body": 1}) as sip:
        assert _single_body_winner(sip, "On the Phone", "") == "t1"


def test_presence_single_body_lookup_element_names_the_element_compared() -> None:
    params = {"force_presence_single_body": 1, "presence_single_body_lookup_element": "activity"}
    with load(presence_xml=params) as sip:
        assert _single_body_winner(sip, "On the Phone", "Available", element="activity") == "t0"


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([b"", b' xmlns:dm="urn:x:dm"', b' xmlns:rpid="urn:x:rpid" id="p"']),
    st.sampled_from([b"\n    ", b"", b"<!--c-->"]),
    st.sampled_from([b"open", b"", b"x &amp; y"]),
)
def test_a_withdrawn_publication_is_shown_closed_as_libxml2_builds_it(
    root_attrs: bytes, gap: bytes, basic: bytes
) -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="urn:ietf:params:xml:ns:pidf"'
        + root_attrs
        + b' entity="sip:a@b">'
        + gap
        + b'<tuple id="t1">'
        + gap
        + b"<status>"
        + gap
        + b"<basic>"
        + basic
        + b"</basic>"
        + gap
        + b"</status><note>n</note></tuple>"
        + gap
        + b"</presence>"
    )
    assert pidf_bodies.offline_body(body) == oracle.offline(body)


# ---------------------------------------------------------------- pres_check_basic / pres_check_activities

CHECK_CFG = CFG.replace(
    "request_route {",
    """request_route {
    if (is_method("MESSAGE")) {
        pres_check_basic("$ru", "open");
        $var(basic) = $rc;
        pres_check_activities("$ru", "meeting");
        $var(activity) = $rc;
        sl_send_reply("200", "basic=$var(basic) activity=$var(activity)");
        exit;
    }""",
)


def _check(sip: Harness) -> str:
    result = sip.send_request("MESSAGE", ALICE, from_=f"sip:bob@{DOMAIN}", body="hi")
    return str(result.replies[-1].msg.reason)


def test_pres_check_basic_and_activities_read_the_presentitys_document() -> None:
    person = (
        '  <dm:person xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" '
        'xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" id="p1">\n'
        "    <rpid:activities><rpid:meeting/></rpid:activities>\n  </dm:person>\n"
    )
    with load(CHECK_CFG) as sip:
        assert _check(sip) == "basic=-1 activity=-1"
        publish(sip, "alice", pidf(ALICE, "closed"))
        assert _check(sip) == "basic=-1 activity=-2"
        sip.advance(1)
        publish(sip, "alice", pidf(ALICE, "open", "t2", extra=person))
        assert _check(sip) == "basic=1 activity=1"


# ---------------------------------------------------------------- XCAP authorization


def test_without_rules_a_watcher_is_pending_and_gets_no_body() -> None:
    with load(presence_xml=XCAP) as sip:
        publish(sip, "alice", pidf(ALICE))
        bob = watcher(sip, "bob", 5011)
        assert subscribe(bob, ALICE).status == 200
        [notify] = notifies(bob)
        assert notify.msg.header("subscription-state") == "pending;expires=600" and notify.msg.body == b""
        assert sip.tables["watchers"].rows()[0]["status"] == 2


@pytest.mark.parametrize(
    ("handling", "state", "reason", "body"),
    [
        ("allow", "active;expires=600", "", True),
        ("confirm", "pending;expires=600", "", False),
        ("block", "terminated;reason=rejected", "rejected", False),
        ("polite-block", "active;expires=600", "polite-block", False),
    ],
)
def test_the_rules_sub_handling_decides_the_state(handling: str, state: str, reason: str, body: bool) -> None:
    with load(presence_xml=XCAP) as sip:
        store_rules(sip, rules(rule("r1", '<cr:one id="sip:bob@127.0.0.1"/>', handling)))
        publish(sip, "alice", pidf(ALICE))
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE)
        [notify] = notifies(bob)
        assert notify.msg.header("subscription-state") == state
        assert bool(notify.msg.body) is body
        assert sip.tables["watchers"].rows()[0]["reason"] == reason


def test_a_many_rule_with_an_exception_leaves_the_excepted_watcher_pending() -> None:
    identity = '<cr:many domain="127.0.0.1"><cr:except id="sip:carol@127.0.0.1 "/></cr:many>'
    with load(presence_xml=XCAP) as sip:
        store_rules(sip, rules(rule("r1", identity, "allow")))
        bob, carol = watcher(sip, "bob", 5011), watcher(sip, "carol", 5012)
        subscribe(bob, ALICE)
        subscribe(carol, ALICE)
        assert notifies(bob)[0].msg.header("subscription-state") == "active;expires=600"
        assert notifies(carol)[0].msg.header("subscription-state") == "pending;expires=600"


def test_transformations_remove_what_the_watcher_may_not_see() -> None:
    transformations = "<pr:provide-services>false</pr:provide-services>"
    with load(presence_xml=XCAP) as sip:
        store_rules(sip, rules(rule("r1", '<cr:one id="sip:bob@127.0.0.1"/>', "allow", transformations)))
        publish(sip, "alice", pidf(ALICE, note="secret"))
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE)
        body = notifies(bob)[0].msg.body.decode()
        assert "<tuple" not in body and body.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<presence')


def test_pres_update_watchers_applies_changed_rules_and_notifies() -> None:
    cfg = CFG.replace(
        "request_route {",
        """request_route {
    if (is_method("MESSAGE")) {
        pres_update_watchers("$ru", "presence");
        sl_send_reply("200", "updated $rc");
        exit;
    }""",
    )
    with load(cfg, presence_xml=XCAP) as sip:
        publish(sip, "alice", pidf(ALICE))
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE)
        assert notifies(bob)[0].msg.header("subscription-state") == "pending;expires=600"
        store_rules(sip, rules(rule("r1", '<cr:one id="sip:bob@127.0.0.1"/>', "allow")))
        assert sip.send_request("MESSAGE", ALICE, body="x").replies[-1].msg.reason == "updated 1"
        update = notifies(bob)[-1]
        assert update.msg.header("subscription-state") == "active;expires=600" and update.msg.body
        assert sip.tables["watchers"].rows()[0]["status"] == 1
        store_rules(sip, rules())
        sip.rpc("presence.updateWatchers", [ALICE, "presence"])
        assert notifies(bob)[-1].msg.header("subscription-state") == "terminated;reason=probation"


def test_xcapauth_userdel_reason_is_the_reason_when_a_watchers_rule_is_gone() -> None:
    with load(presence_xml={**XCAP, "xcapauth_userdel_reason": "rejected"}) as sip:
        store_rules(sip, rules(rule("r1", '<cr:one id="sip:bob@127.0.0.1"/>', "allow")))
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE)
        store_rules(sip, rules())
        sip.rpc("presence.refreshWatchers", [ALICE, "presence", 0])
        assert notifies(bob)[-1].msg.header("subscription-state") == "terminated;reason=rejected"


SPHERE_PERSON = (
    '  <dm:person xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" '
    'xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" id="p1"><rpid:sphere>{}</rpid:sphere></dm:person>\n'
)


def sphere_rule(sphere: str) -> bytes:
    return rules(
        '  <cr:rule id="r1">\n    <cr:conditions><cr:identity><cr:one id="sip:bob@127.0.0.1"/>'
        f"</cr:identity><pr:sphere>{sphere}</pr:sphere></cr:conditions>\n"
        "    <cr:actions><pr:sub-handling>allow</pr:sub-handling></cr:actions>\n  </cr:rule>\n"
    )


def _state_with_sphere(published: str, ruled: str, check: int, publ_cache: int = 0) -> str | None:
    with load(presence={"enable_sphere_check": check, "publ_cache": publ_cache}, presence_xml=XCAP) as sip:
        store_rules(sip, sphere_rule(ruled))
        publish(sip, "alice", pidf(ALICE, extra=SPHERE_PERSON.format(published)))
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE)
        return notifies(bob)[0].msg.header("subscription-state")


def test_with_enable_sphere_check_a_rule_of_another_sphere_does_not_apply() -> None:
    assert _state_with_sphere("home", "work", 1) == "pending;expires=600"


def test_with_enable_sphere_check_a_rule_of_the_published_sphere_applies() -> None:
    assert _state_with_sphere("Work", "work", 1) == "active;expires=600"


def test_without_enable_sphere_check_the_sphere_condition_is_not_checked() -> None:
    assert _state_with_sphere("home", "work", 0) == "active;expires=600"


def test_with_publ_cache_1_a_new_publications_sphere_is_unknown_so_the_condition_holds() -> None:
    # as Kamailio 5.6's handle_publish, which never reads the sphere of a new PUBLISH's body
    assert _state_with_sphere("home", "work", 1, publ_cache=1) == "active;expires=600"


def test_with_publ_cache_1_a_refresh_changing_the_sphere_reevaluates_the_watchers() -> None:
    with load(presence={"enable_sphere_check": 1, "publ_cache": 1}, presence_xml=XCAP) as sip:
        store_rules(sip, sphere_rule("work"))
        etag = publish(sip, "alice", pidf(ALICE, extra=SPHERE_PERSON.format("work"))).msg.header("sip-etag")
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE)
        publish(sip, "alice", pidf(ALICE, extra=SPHERE_PERSON.format("home")), etag=etag)
        states = [n.msg.header("subscription-state") for n in notifies(bob)]
        # the rule no longer applies: the watcher's rule is gone (xcapauth_userdel_reason)
        assert states == ["active;expires=600", "terminated;reason=probation"]
