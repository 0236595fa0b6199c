"""xhttp's {url.path} and {url.querystring} in-process (tests/e2e/test_sl_xhttp_kamailio.py runs them
on an HTTP request beside Kamailio 5.6)."""
from __future__ import annotations

from typing import Any

import pytest

CFG = """
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xhttp.so"
request_route {
    $var(u) = $hdr(X-Url);
    $var(n) = 42;
    sl_send_reply("200", "p=[$(var(u){url.path})] q=[$(var(u){url.querystring})] n=[$(var(n){url.path})]");
}
"""


@pytest.mark.parametrize("url, path, query", [
    ("/rpc?id=1&x=y", "/rpc", "id=1&x=y"),
    ("/rpc", "/rpc", ""),
    ("/rpc?", "/rpc", ""),
    ("/a?b?c", "/a", "b?c"),
    ("?only", "", "only"),
])
def test_url_path_and_querystring_split_at_the_first_question_mark(kampy_cfg: Any, url: str, path: str,
                                                                    query: str) -> None:
    sip = kampy_cfg(CFG, db=None)
    reply = sip.send_request("OPTIONS", "sip:x@example.test", headers={"X-Url": url}).reply
    assert reply.msg.reason == f"p=[{path}] q=[{query}] n=[42]"


def test_an_unknown_url_transformation_is_refused_at_load(kampy_cfg: Any) -> None:
    with pytest.raises(Exception, match="url"):
        kampy_cfg(CFG.replace("{url.path}", "{url.host}"), db=None)
