"""The system's libxml2 (installed with Debian's kamailio-presence-modules, which link it) through
ctypes: what Kamailio's presence modules do with an XML document, done by the library they do it
with, as the reference kampy's own tree (kampy/libxml.py) is checked against.

Only what presence and presence_xml call: xmlParseMemory, xmlDocDumpFormatMemory, xmlCopyNode,
xmlAddChild, xmlNewDoc/xmlNewNode/xmlNewProp/xmlNewChild, and a walk over the nodes' fields.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator

_lib = ctypes.CDLL("libxml2.so.2")

XML_ELEMENT_NODE = 1
XML_TEXT_NODE = 3


class _Node(ctypes.Structure):
    pass


class _Ns(ctypes.Structure):
    pass


_Ns._fields_ = [
    ("next", ctypes.POINTER(_Ns)),
    ("type", ctypes.c_int),
    ("href", ctypes.c_char_p),
    ("prefix", ctypes.c_char_p),
    ("_private", ctypes.c_void_p),
    ("context", ctypes.c_void_p),
]
_Node._fields_ = [
    ("_private", ctypes.c_void_p),
    ("type", ctypes.c_int),
    ("name", ctypes.c_char_p),
    ("children", ctypes.POINTER(_Node)),
    ("last", ctypes.POINTER(_Node)),
    ("parent", ctypes.POINTER(_Node)),
    ("next", ctypes.POINTER(_Node)),
    ("prev", ctypes.POINTER(_Node)),
    ("doc", ctypes.c_void_p),
    ("ns", ctypes.POINTER(_Ns)),
    ("content", ctypes.c_char_p),
    ("properties", ctypes.c_void_p),
    ("nsDef", ctypes.POINTER(_Ns)),
]

NodePtr = ctypes.POINTER(_Node)
_lib.xmlParseMemory.restype = ctypes.c_void_p
_lib.xmlParseMemory.argtypes = [ctypes.c_char_p, ctypes.c_int]
_lib.xmlDocDumpFormatMemory.argtypes = [
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_void_p),
    ctypes.POINTER(ctypes.c_int),
    ctypes.c_int,
]
_lib.xmlDocGetRootElement.restype = NodePtr
_lib.xmlDocGetRootElement.argtypes = [ctypes.c_void_p]
_lib.xmlCopyNode.restype = NodePtr
_lib.xmlCopyNode.argtypes = [NodePtr, ctypes.c_int]
_lib.xmlAddChild.restype = NodePtr
_lib.xmlAddChild.argtypes = [NodePtr, NodePtr]
_lib.xmlFreeDoc.argtypes = [ctypes.c_void_p]
_lib.xmlNewDoc.restype = ctypes.c_void_p
_lib.xmlNewDoc.argtypes = [ctypes.c_char_p]
_lib.xmlNewNode.restype = NodePtr
_lib.xmlNewNode.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_lib.xmlDocSetRootElement.restype = NodePtr
_lib.xmlDocSetRootElement.argtypes = [ctypes.c_void_p, NodePtr]
_lib.xmlNewProp.restype = ctypes.c_void_p
_lib.xmlNewProp.argtypes = [NodePtr, ctypes.c_char_p, ctypes.c_char_p]
_lib.xmlNewChild.restype = NodePtr
_lib.xmlNewChild.argtypes = [NodePtr, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
_lib.xmlNodeSetContent.argtypes = [NodePtr, ctypes.c_char_p]
_lib.xmlFree = ctypes.c_void_p.in_dll(_lib, "xmlFree")
_free = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(_lib.xmlFree.value)

# libxml2 prints parser errors on stderr through its generic error handler; keep the test output clean
_SILENT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)(lambda ctx, msg: None)
_lib.xmlSetGenericErrorFunc.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
_lib.xmlSetGenericErrorFunc(None, ctypes.cast(_SILENT, ctypes.c_void_p))


class Doc:
    """A libxml2 document, freed when the object goes."""

    def __init__(self, handle: int) -> None:
        self.handle = handle

    def __del__(self) -> None:
        if self.handle:
            _lib.xmlFreeDoc(self.handle)

    @property
    def root(self) -> NodePtr:
        return _lib.xmlDocGetRootElement(self.handle)

    def dump(self, fmt: int = 1) -> bytes:
        """xmlDocDumpFormatMemory(doc, &s, &len, fmt)."""
        out, size = ctypes.c_void_p(), ctypes.c_int()
        _lib.xmlDocDumpFormatMemory(self.handle, ctypes.byref(out), ctypes.byref(size), fmt)
        data = ctypes.string_at(out.value, size.value) if out.value else b""
        if out.value:
            _free(out.value)
        return data


def parse(data: bytes) -> Doc | None:
    """xmlParseMemory: None for a document libxml2 refuses."""
    handle = _lib.xmlParseMemory(data, len(data))
    return Doc(handle) if handle else None


def dump(data: bytes, fmt: int = 1) -> bytes | None:
    """What presence_xml sends for one published body: parsed, then dumped with formatting."""
    doc = parse(data)
    return doc.dump(fmt) if doc is not None else None


def children(node: NodePtr) -> Iterator[NodePtr]:
    child = node.contents.children
    while child:
        yield child
        child = child.contents.next


def name_of(node: NodePtr) -> str:
    return (node.contents.name or b"").decode().lower()


def child_named(node: NodePtr, name: str) -> NodePtr | None:
    """xmlNodeGetChildByName: the first child of that name, case-insensitive."""
    return next((c for c in children(node) if name_of(c) == name.lower()), None)


def copy_node(node: NodePtr, extended: int = 1) -> NodePtr:
    return _lib.xmlCopyNode(node, extended)


def add_child(parent: NodePtr, node: NodePtr) -> None:
    _lib.xmlAddChild(parent, node)


def attribute(node: NodePtr, name: str) -> str | None:
    _lib.xmlGetProp.restype = ctypes.c_void_p
    _lib.xmlGetProp.argtypes = [NodePtr, ctypes.c_char_p]
    value = _lib.xmlGetProp(node, name.encode())
    if not value:
        return None
    text = ctypes.string_at(value).decode()
    _free(value)
    return text


def aggregate(bodies: list[bytes]) -> bytes | None:
    """presence_xml's agregate_xmls(): the newest document (last), with the children of the older
    ones appended (newest first) unless their first tuple's id is one the result has already."""
    docs = [parse(b) for b in bodies]
    if any(d is None for d in docs) or not docs:
        return None
    base = docs[-1].root  # type: ignore[union-attr]
    for doc in reversed(docs[:-1]):
        root = doc.root  # type: ignore[union-attr]
        tuple_node = child_named(root, "tuple")
        append = True
        if tuple_node is not None:
            wanted = attribute(tuple_node, "id")
            for node in children(base):
                if name_of(node) == "tuple" and attribute(node, "id") == wanted:
                    append = False
                    break
        if append:
            for node in list(children(root)):
                add_child(base, copy_node(node, 1))
    return docs[-1].dump(1)  # type: ignore[union-attr]


def new_doc_dump(build: list[tuple]) -> bytes:
    """A document built with xmlNewDoc/xmlNewNode/xmlNewProp/xmlNewChild, dumped with formatting:
    `build` is [("root", name, [(attr, value), ...]), ("child", parent_index, name, content,
    [(attr, value), ...]), ...], nodes indexed in creation order (the root is 0)."""
    doc = Doc(_lib.xmlNewDoc(b"1.0"))
    nodes: list[NodePtr] = []
    for step in build:
        if step[0] == "root":
            node = _lib.xmlNewNode(None, step[1].encode())
            _lib.xmlDocSetRootElement(doc.handle, node)
            attrs = step[2]
        else:
            _, parent, name, content, attrs = step
            node = _lib.xmlNewChild(
                nodes[parent], None, name.encode(), content.encode() if content is not None else None
            )
        for attr, value in attrs:
            _lib.xmlNewProp(node, attr.encode(), value.encode())
        nodes.append(node)
    return doc.dump(1)


def _find(node: NodePtr, name: str) -> NodePtr | None:
    """xmlNodeGetNodeByName from `node` through its siblings and their descendants."""
    while node:
        if name_of(node) == name:
            return node
        found = _find(node.contents.children, name) if node.contents.children else None
        if found:
            return found
        node = node.contents.next
    return None


def offline(body: bytes) -> bytes | None:
    """presence_xml's offline_nbody(): <basic> set to closed, then a new document of copies: the
    presence element (xmlCopyNode 2), its first tuple (2), that tuple's status (1)."""
    doc = parse(body)
    if doc is None:
        return None
    top = _lib.xmlDocGetRootElement(doc.handle)
    basic, tuple_node, status = _find(top, "basic"), _find(top, "tuple"), _find(top, "status")
    _lib.xmlNodeSetContent(basic, b"closed")
    new = Doc(_lib.xmlNewDoc(b"1.0"))
    root = copy_node(top, 2)
    _lib.xmlDocSetRootElement(new.handle, root)
    tuple_copy = copy_node(tuple_node, 2)
    add_child(root, tuple_copy)
    add_child(tuple_copy, copy_node(status, 1))
    return new.dump(1)
