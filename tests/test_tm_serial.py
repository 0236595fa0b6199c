"""tm: serial forking by q-value (t_load_contacts, t_next_contacts, t_next_contact_flow and the
parameters contacts_avp, contact_flows_avp, xavp_contact), as Kamailio 5.6's t_serial.c."""
from __future__ import annotations

import pytest

from kampy.errors import ConfigError
from tests import reg_helpers as reg
from tests.tmkit import ALICE, BOB, lines, parsed, reply_to, request, server

PARAMS = '''loadmodule "corex"
loadmodule "kex"
modparam("tm", "contacts_avp", "tm_contacts")
modparam("tm", "contact_flows_avp", "tm_contact_flows")
'''

# a (the R-URI, no q), b q=0.5, c q=1.0, d q=0.5: c first, then d and b in parallel, then a
SERIAL = '''
request_route {
  $ru = "sip:a@198.51.100.20:5081";
  append_branch("sip:b@198.51.100.20:5082", "0.5");
  append_branch("sip:c@198.51.100.20:5083", "1.0");
  append_branch("sip:d@198.51.100.20:5084", "0.5");
  t_load_contacts();
  t_next_contacts();
  t_on_failure("NEXT");
  t_relay();
}
failure_route[NEXT] {
  if (!t_next_contacts()) { exit; }
  t_on_failure("NEXT");
  t_relay();
}
'''


def invites(out: list) -> list:
    return [o for o in out if o.data.startswith(b"INVITE")]


def uris(out: list) -> list[str]:
    return [parsed(o).uri for o in invites(out)]


def test_highest_q_goes_first_and_equal_q_values_fork_in_parallel() -> None:
    srv = server(SERIAL, PARAMS)
    first = srv.handle(request("INVITE"), ALICE)
    assert uris(first) == ["sip:c@198.51.100.20:5083"]
    second = srv.handle(reply_to(invites(first)[0], 486, "Busy"), BOB)
    assert uris(second) == ["sip:d@198.51.100.20:5084", "sip:b@198.51.100.20:5082"]
    d, b = invites(second)
    upstream = [x for x in lines(srv.handle(reply_to(d, 486, "Busy"), BOB)) if x.startswith("SIP/2.0")]
    assert upstream == []  # b still rings
    third = srv.handle(reply_to(b, 480, "Away"), BOB)
    assert uris(third) == ["sip:a@198.51.100.20:5081"]


def test_t_next_contacts_without_contacts_left_ends_with_the_best_reply() -> None:
    srv = server(SERIAL, PARAMS)
    c = invites(srv.handle(request("INVITE"), ALICE))[0]
    d, b = invites(srv.handle(reply_to(c, 486, "Busy"), BOB))
    srv.handle(reply_to(d, 486, "Busy"), BOB)
    a = invites(srv.handle(reply_to(b, 486, "Busy"), BOB))[0]
    out = srv.handle(reply_to(a, 404, "Not Found"), BOB)
    assert [line for line in lines(out) if line.startswith("SIP/2.0")] == ["SIP/2.0 404 Not Found"]


def test_a_200_of_the_second_class_goes_upstream() -> None:
    srv = server(SERIAL, PARAMS)
    c = invites(srv.handle(request("INVITE"), ALICE))[0]
    d, _ = invites(srv.handle(reply_to(c, 486, "Busy"), BOB))
    out = srv.handle(reply_to(d, 200, "OK"), BOB)
    assert "SIP/2.0 200 OK" in lines(out)


def reason(routes: str, params: str = PARAMS) -> str:
    """The reason phrase of the reply the route sends (sl_send_reply("200", "...values...")."""
    srv = server(routes, params)
    return parsed(srv.handle(request("MESSAGE"), ALICE)[0]).reason


def script_vars(routes: str, params: str = PARAMS) -> dict:
    """The $var values after the route ran on a MESSAGE."""
    srv = server(routes, params)
    srv.handle(request("MESSAGE"), ALICE)
    return srv.core.modules["pv"].vars


def test_t_load_contacts_stores_the_set_highest_q_first_and_clears_the_branches() -> None:
    text = reason('''request_route {
      append_branch("sip:b@h", "0.5"); append_branch("sip:c@h", "1.0");
      $var(r) = t_load_contacts();
      $var(s) = "" + $var(r) + " " + $xavp(tm_contacts[0]=>uri) + " " + $xavp(tm_contacts[0]=>q_flag);
      $var(s) = $var(s) + " " + $xavp(tm_contacts[1]=>uri) + " " + $xavp(tm_contacts[1]=>q_flag);
      $var(s) = $var(s) + " " + $xavp(tm_contacts[2]=>uri) + " " + $xavp(tm_contacts[2]=>q_flag);
      $var(f) = $xavp(tm_contacts[0]=>flags);
      $var(nb) = $(branch(uri)[*]);
      sl_send_reply("200", "= $var(s)");
    }''')
    assert text == "= 1 sip:c@h 4 sip:b@h 4 sip:bob@198.51.100.20:5080 0"


def test_t_load_contacts_with_one_destination_does_nothing() -> None:
    assert reason('''request_route {
      $var(r) = t_load_contacts();
      sl_send_reply("200", "= $var(r) $xavp(tm_contacts=>uri)");
    }''') == "= 1 <null>"


def test_t_load_contacts_keeps_dst_uri_and_branch_flags() -> None:
    text = reason('''request_route {
      $du = "sip:198.51.100.9:5099"; setbflag(3);
      append_branch("sip:b@h", "0.1");
      t_load_contacts();
      sl_send_reply("200", "= $xavp(tm_contacts[1]=>dst_uri) $xavp(tm_contacts[1]=>flags)");
    }''')
    assert text == "= sip:198.51.100.9:5099 8"


def test_t_next_contacts_restores_dst_uri_and_branch_flags_of_the_contact() -> None:
    text = reason('''request_route {
      append_branch("sip:b@h", "0.1");
      $du = "sip:198.51.100.9:5099"; setbflag(3);
      t_load_contacts();
      t_next_contacts();
      $var(one) = $ru + " " + $du;
      t_next_contacts();
      $var(r) = t_next_contacts();
      sl_send_reply("200", "= $var(one) | $ru $du $var(r)");
    }''')
    assert text == "= sip:b@h  | sip:bob@198.51.100.20:5080 sip:198.51.100.9:5099 -2"


def test_t_next_contacts_without_contacts_returns_minus_2() -> None:
    assert reason('''request_route {
      $var(r) = t_next_contacts();
      sl_send_reply("200", "r=$var(r)");
    }''') == "r=-2"


def test_the_functions_return_minus_1_without_contacts_avp() -> None:
    assert reason('''request_route {
      append_branch("sip:b@h", "0.5");
      $var(a) = t_load_contacts(); $var(b) = t_next_contacts();
      sl_send_reply("200", "= $var(a) $var(b)");
    }''', 'loadmodule "corex"\n') == "= -1 -1"


def test_contacts_avp_without_contact_flows_avp_refuses_to_start() -> None:
    with pytest.raises(ConfigError, match="contact_flows_avp param has not been defined"):
        server('request_route { t_load_contacts(); }', 'modparam("tm", "contacts_avp", "c")\n')


def test_t_load_contacts_refuses_an_unknown_mode() -> None:
    assert reason('''request_route {
      append_branch("sip:b@h", "0.5");
      $var(r) = t_load_contacts("2");
      sl_send_reply("200", "= $var(r)");
    }''') == "= -1"


def test_proportional_mode_tries_one_contact_at_a_time_and_q_0_last() -> None:
    text = reason('''request_route {
      $ru = "sip:zero@h"; $var(q0) = "0";
      append_branch("sip:b@h", "0.0"); append_branch("sip:c@h", "0.7");
      t_load_contacts("1");
      t_next_contacts(); $var(s) = $ru + "/" + $(branch(uri)[*]);
      t_next_contacts(); $var(s) = $var(s) + " " + $ru + "/" + $(branch(uri)[*]);
      sl_send_reply("200", "= $var(s) $xavp(tm_contacts[0]=>q_flag)");
    }''')
    assert text == "= sip:c@h/ sip:zero@h/ 4"


def test_one_contact_per_instance_the_other_flows_wait_in_contact_flows_avp() -> None:
    text = reason('''request_route {
      $xavp(tm_contacts=>uri) = "sip:flow2@h"; $xavp(tm_contacts[0]=>instance) = "<urn:uuid:1>";
      $xavp(tm_contacts[0]=>flags) = 0; $xavp(tm_contacts[0]=>q_flag) = 4;
      $xavp(tm_contacts=>uri) = "sip:other@h";
      $xavp(tm_contacts[0]=>flags) = 0; $xavp(tm_contacts[0]=>q_flag) = 0;
      $xavp(tm_contacts=>uri) = "sip:flow1@h"; $xavp(tm_contacts[0]=>instance) = "<urn:uuid:1>";
      $xavp(tm_contacts[0]=>flags) = 0; $xavp(tm_contacts[0]=>q_flag) = 0;
      t_next_contacts();
      sl_send_reply("200", "= $ru $(branch(uri)[*]) $xavp(tm_contact_flows=>uri) $xavp(tm_contacts=>uri)");
    }''')
    assert text == "= sip:flow1@h sip:other@h sip:flow2@h <null>"


def test_xavp_contact_attributes_follow_their_contact() -> None:
    params = PARAMS + 'modparam("tm", "xavp_contact", "ulattrs")\n'
    text = reason('''request_route {
      $xavp(ulattrs=>k) = "of-b"; $xavp(ulattrs=>k) = "of-ruri";
      append_branch("sip:b@h", "1.0");
      t_load_contacts();
      $var(gone) = $xavp(ulattrs=>k);
      t_next_contacts();
      sl_send_reply("200", "= $var(gone) $ru $xavp(ulattrs[0]=>k)");
    }''', params)
    assert text == "= 0 sip:b@h of-b"


FLOWS = '''
request_route {
  $var(seen) = "s";
  $xavp(tm_contacts=>uri) = "sip:flow2@198.51.100.20:5082"; $xavp(tm_contacts[0]=>instance) = "<urn:uuid:1>";
  $xavp(tm_contacts[0]=>flags) = 0; $xavp(tm_contacts[0]=>q_flag) = 4;
  $xavp(tm_contacts=>uri) = "sip:flow1@198.51.100.20:5081"; $xavp(tm_contacts[0]=>instance) = "<urn:uuid:1>";
  $xavp(tm_contacts[0]=>flags) = 0; $xavp(tm_contacts[0]=>q_flag) = 0;
  t_next_contacts();
  t_on_branch_failure("outbound");
  t_relay();
}
event_route[tm:branch-failure:outbound] {
  $var(r) = t_next_contact_flow();
  if ($var(r) == 1) { t_on_branch_failure("outbound"); t_relay(); }
  $var(seen) = $var(seen) + " " + $var(r);
}
'''


def test_t_next_contact_flow_sends_the_next_flow_of_the_failed_instance() -> None:
    srv = server(FLOWS, PARAMS)
    flow1 = invites(srv.handle(request("INVITE"), ALICE))
    assert uris(flow1) == ["sip:flow1@198.51.100.20:5081"]
    flow2 = srv.handle(reply_to(flow1[0], 430, "Flow Failed"), BOB)
    assert uris(flow2) == ["sip:flow2@198.51.100.20:5082"]
    out = srv.handle(reply_to(invites(flow2)[0], 430, "Flow Failed"), BOB)
    assert [x for x in lines(out) if x.startswith("SIP/2.0")] == ["SIP/2.0 430 Flow Failed"]
    assert srv.core.modules["pv"].vars["seen"] == "s 1 -2"


def test_t_next_contact_flow_outside_branch_failure_route_returns_minus_1() -> None:
    assert reason('''request_route {
      $var(r) = t_next_contact_flow();
      sl_send_reply("200", "= $var(r)");
    }''') == "= -1"


def test_contact_socket_is_restored_and_an_unknown_one_is_an_error() -> None:
    text = reason('''request_route {
      $xavp(tm_contacts=>uri) = "sip:x@h"; $xavp(tm_contacts[0]=>sock) = "udp:127.0.0.1:5060";
      $xavp(tm_contacts[0]=>flags) = 0; $xavp(tm_contacts[0]=>q_flag) = 4;
      $var(a) = t_next_contacts(); $var(sock) = $fs;
      $xavp(tm_contacts=>uri) = "sip:y@h"; $xavp(tm_contacts[0]=>sock) = "udp:10.1.1.1:5060";
      $xavp(tm_contacts[0]=>flags) = 0; $xavp(tm_contacts[0]=>q_flag) = 4;
      $var(b) = t_next_contacts();
      sl_send_reply("200", "= $var(a) $var(sock) $var(b) $ru");
    }''')
    assert text == "= 1 udp:127.0.0.1:5060 -1 sip:x@h"


LOCATION = r'''
request_route {
  if (is_method("REGISTER")) {
    $xavp(ulattrs=>tenant) = $hdr(X-Tenant);
    save("location");
    exit;
  }
  if (is_method("ACK")) { exit; }
  lookup("location");
  t_load_contacts();
  t_next_contacts();
  $var(tenant) = $xavp(ulattrs[0]=>tenant);
  t_on_failure("NEXT");
  t_relay();
}
failure_route[NEXT] {
  if (!t_next_contacts()) { exit; }
  $var(tenant) = $xavp(ulattrs[0]=>tenant);
  t_on_failure("NEXT");
  t_relay();
}
'''


def test_contacts_found_by_lookup_are_tried_by_their_q_with_their_xavp_contact() -> None:
    params = PARAMS + ('loadmodule "usrloc"\nloadmodule "registrar"\nloadmodule "textops"\n'
                       'modparam("usrloc", "xavp_contact", "ulattrs")\n'
                       'modparam("tm", "xavp_contact", "ulattrs")\n')
    srv = server(LOCATION, params)
    for n, (port, q) in enumerate(((5071, "0.2"), (5072, "0.9"), (5073, "0.5"))):
        srv.handle(reg.register(contact=f"<sip:alice@10.0.0.1:{port}>;q={q}", callid=f"reg-{n}",
                                extra=f"X-Tenant: t{port}\r\n"), reg.UA)
    order, tenants = [], []
    out = srv.handle(reg.request(), ALICE)
    for _ in range(3):
        sent = invites(out)
        assert len(sent) == 1
        order.append(parsed(sent[0]).uri)
        tenants.append(srv.core.modules["pv"].vars["tenant"])
        out = srv.handle(reply_to(sent[0], 486, "Busy"), BOB)
    assert order == ["sip:alice@10.0.0.1:5072", "sip:alice@10.0.0.1:5073", "sip:alice@10.0.0.1:5071"]
    assert tenants == ["t5072", "t5073", "t5071"]
    assert [x for x in lines(out) if x.startswith("SIP/2.0")] == ["SIP/2.0 486 Busy"]


def test_in_failure_route_the_consumed_r_uri_is_left_out_of_the_set() -> None:
    srv = server('''
request_route { t_on_failure("F"); t_relay(); }
failure_route[F] {
  append_branch("sip:low@198.51.100.30:5090", "0.1");
  append_branch("sip:high@198.51.100.30:5091", "0.9");
  t_load_contacts();
  $var(n) = $cnt($xavp(tm_contacts));
  t_next_contacts();
  t_relay();
}
''', PARAMS)
    to_bob = invites(srv.handle(request("INVITE"), ALICE))[0]
    out = srv.handle(reply_to(to_bob, 486, "Busy"), BOB)
    assert uris(out) == ["sip:high@198.51.100.30:5091"]
    assert srv.core.modules["pv"].vars["n"] == 2



def test_odd_records_made_by_the_script_are_read_without_a_fault() -> None:
    text = reason('''request_route {
      $xavp(tm_contacts) = "not an item";
      $xavp(tm_contacts=>uri) = "sip:n@h"; $xavp(tm_contacts[0]=>flags) = "junk";
      $xavp(tm_contacts[0]=>q_flag) = "0";
      $var(a) = t_next_contacts();
      $var(b) = t_next_contacts();
      sl_send_reply("200", "= $var(a) $var(b) $ru $(branch(uri)[*])");
    }''')
    assert text.startswith("= 1 -2 sip:n@h")  # the plain value is no contact: skipped
