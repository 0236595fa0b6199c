"""$shv(...) is one variable for all worker processes, as in Kamailio's shared memory."""
from __future__ import annotations

from kampy.runtime.server import Server
from tests.tmkit import ALICE, lines, request, two_workers

PARAMS = 'modparam("pv", "shvset", "calls=i:0")\nmodparam("pv", "shvset", "mode=s:day")\n'
ROUTES = """
request_route {
    if ($rm == "PUBLISH") {
        $shv(calls) = $shv(calls) + 1;
        $shv(mode) = $hdr(X-Mode);
        sl_send_reply("200", "set");
        exit;
    }
    sl_send_reply("200", "got $shv(calls) $shv(mode)");
}
"""


def status(srv: Server, method: str, extra: str = "") -> str:
    return lines(srv.handle(request(method, extra=extra), ALICE))[0]  # type: ignore[arg-type]


def test_a_shared_variable_set_in_one_worker_is_read_in_another() -> None:
    with two_workers(ROUTES, PARAMS) as (one, two):
        status(one, "PUBLISH", "X-Mode: night\r\n")
        assert status(two, "OPTIONS") == "SIP/2.0 200 got 1 night"


def test_the_shvset_values_are_given_once_not_again_by_each_worker_that_starts() -> None:
    with two_workers(ROUTES, PARAMS) as (one, two):
        status(one, "PUBLISH", "X-Mode: night\r\n")
        status(two, "PUBLISH", "X-Mode: dawn\r\n")
        assert status(one, "OPTIONS") == "SIP/2.0 200 got 2 dawn"
