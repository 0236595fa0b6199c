"""kampy.libxml against the system's libxml2 (tests/support/libxml2_oracle.py): the same documents,
parsed and dumped with formatting, copied and aggregated, built node by node, give the same bytes.
These are the bytes a presence server puts in NOTIFY bodies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kampy import libxml
from tests.support import libxml2_oracle as oracle

NAMES = ["presence", "tuple", "status", "basic", "note", "person", "a", "b"]
PREFIXES = ["dm", "rpid", "c"]
TEXTS = ["", " ", "\n  ", "open", "a & b", "x<y>z", "caf\u00e9", "\u65e5\u672c", "t\r\nu", "\"q'"]
ATTR_VALUES = ["x", "a&b", "1\t2", 'q"', "caf\u00e9", "<>"]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@st.composite
def elements(draw: st.DrawFn, depth: int = 0, declared: tuple[str, ...] = ()) -> str:
    prefix = draw(st.sampled_from([None, *declared])) if declared else None
    name = draw(st.sampled_from(NAMES))
    qname = f"{prefix}:{name}" if prefix else name
    decls = []
    new = draw(st.lists(st.sampled_from(PREFIXES), max_size=2, unique=True))
    if draw(st.booleans()):
        decls.append('xmlns="urn:ietf:params:xml:ns:pidf"')
    decls += [f'xmlns:{p}="urn:x:{p}"' for p in new]
    attrs = [
        f'{n}="{_escape(v).replace(chr(34), "&quot;")}"'
        for n, v in draw(
            st.dictionaries(
                st.sampled_from(["id", "entity", "version"]), st.sampled_from(ATTR_VALUES), max_size=2
            )
        ).items()
    ]
    head = " ".join([qname, *draw(st.permutations(decls + attrs))])
    scope = tuple(sorted(set(declared) | set(new)))
    if depth >= 3:
        kids = draw(st.lists(st.sampled_from(TEXTS), max_size=1))
        body = "".join(_escape(t) for t in kids)
    else:
        parts = draw(
            st.lists(
                st.one_of(
                    st.sampled_from(TEXTS).map(_escape),
                    st.just("<!--c-->"),
                    st.just("<![CDATA[<x>]]>"),
                    elements(depth + 1, scope),
                ),
                max_size=4,
            )
        )
        body = "".join(parts)
    return f"<{head}/>" if not body and draw(st.booleans()) else f"<{head}>{body}</{qname}>"


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    decl = draw(
        st.sampled_from(
            [
                "",
                '<?xml version="1.0"?>\n',
                '<?xml version="1.0" encoding="UTF-8"?>\n',
                "<?xml version='1.0' encoding='utf-8' standalone='no'?>",
            ]
        )
    )
    return (decl + draw(elements()) + draw(st.sampled_from(["", "\n", "<!--end-->\n"]))).encode()


@settings(max_examples=300, deadline=None)
@given(documents())
def test_a_parsed_document_is_dumped_as_libxml2_dumps_it(data: bytes) -> None:
    assert libxml.parse(data).dump() == oracle.dump(data)


@settings(max_examples=100, deadline=None)
@given(documents())
def test_a_parsed_document_is_dumped_unformatted_as_libxml2_dumps_it(data: bytes) -> None:
    assert libxml.parse(data).dump(fmt=False) == oracle.dump(data, 0)


def _aggregate(bodies: list[bytes]) -> bytes:
    docs = [libxml.parse(b) for b in bodies]
    base = docs[-1].root
    assert base is not None
    for doc in reversed(docs[:-1]):
        root = doc.root
        assert root is not None
        first = root.child("tuple")
        if first is not None and any(
            n.name.lower() == "tuple" and n.attr("id") == first.attr("id") for n in base.children
        ):
            continue
        for node in list(root.children):
            base.add_child(libxml.copy_node(node, 1))
    return docs[-1].dump()


@settings(max_examples=150, deadline=None)
@given(st.lists(documents(), min_size=2, max_size=3))
def test_copied_subtrees_carry_the_namespace_declarations_libxml2_gives_them(bodies: list[bytes]) -> None:
    assert _aggregate(bodies) == oracle.aggregate(bodies)


PIDF = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="urn:ietf:params:xml:ns:pidf" '
    b'xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="sip:alice@example.com">\n'
    b'  <tuple id="{id}">\n    <status>\n      <basic>open</basic>\n    </status>\n  </tuple>\n'
    b'  <dm:person id="p1"><dm:note>Lunch</dm:note></dm:person>\n</presence>\n'
)


def test_two_publications_aggregate_into_the_newest_with_the_older_tuple_appended() -> None:
    bodies = [PIDF.replace(b"{id}", b"phone"), PIDF.replace(b"{id}", b"laptop")]
    out = _aggregate(bodies)
    assert out == oracle.aggregate(bodies)
    assert b'<tuple xmlns="urn:ietf:params:xml:ns:pidf" id="phone">' in out
    assert b'<dm:person xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" id="p1">' in out


def test_publications_with_the_same_tuple_id_are_not_aggregated() -> None:
    bodies = [PIDF.replace(b"{id}", b"phone"), PIDF.replace(b"{id}", b"phone")]
    assert _aggregate(bodies) == oracle.aggregate(bodies) == libxml.parse(bodies[-1]).dump()


def test_a_built_document_is_dumped_indented_without_an_encoding() -> None:
    doc = libxml.new_doc("watcherinfo")
    root = doc.root
    assert root is not None
    for name, value in (("xmlns", "urn:ietf:params:xml:ns:watcherinfo"), ("version", "0"), ("state", "full")):
        root.set_prop(name, value)
    wlist = root.new_child("watcher-list")
    wlist.set_prop("resource", "sip:alice@example.com")
    watcher = wlist.new_child("watcher", "sip:b\u00f6b@example.com")
    watcher.set_prop("id", "c1")
    expected = oracle.new_doc_dump(
        [
            (
                "root",
                "watcherinfo",
                [("xmlns", "urn:ietf:params:xml:ns:watcherinfo"), ("version", "0"), ("state", "full")],
            ),
            ("child", 0, "watcher-list", None, [("resource", "sip:alice@example.com")]),
            ("child", 1, "watcher", "sip:b\u00f6b@example.com", [("id", "c1")]),
        ]
    )
    assert doc.dump() == expected
    assert b"sip:b&#xF6;b@example.com" in expected


def test_a_copy_without_children_keeps_attributes_and_namespaces() -> None:
    doc = libxml.parse(PIDF.replace(b"{id}", b"phone"))
    status = doc.find("status")
    assert status is not None
    copy = libxml.copy_node(status, 1)
    out = libxml.new_doc()
    out.set_root(copy)
    assert out.dump() == (
        b'<?xml version="1.0"?>\n<status xmlns="urn:ietf:params:xml:ns:pidf">\n'
        b"      <basic>open</basic>\n    </status>\n"
    )


@pytest.mark.parametrize("bad", [b"", b"<a>", b"<a></b>", b"not xml", b"<a/><b/>"])
def test_a_document_libxml2_refuses_is_refused(bad: bytes) -> None:
    assert oracle.parse(bad) is None
    with pytest.raises(libxml.XmlError):
        libxml.parse(bad)


def test_look_ups_ignore_case_and_namespace_as_presence_xml_does() -> None:
    doc = libxml.parse(PIDF.replace(b"{id}", b"phone"))
    root = doc.root
    assert root is not None
    assert root.child("TUPLE") is not None and root.child("tuple").attr("ID") == "phone"  # type: ignore[union-attr]
    assert doc.find("basic").text == "open"  # type: ignore[union-attr]
    assert doc.find("note", "dm").text == "Lunch"  # type: ignore[union-attr]
    assert doc.find("note", "rpid") is None
