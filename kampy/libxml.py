"""XML documents as Kamailio's modules see them through libxml2: a tree built the way libxml2's parser
builds it, and written back the way `xmlDocDumpFormatMemory(doc, &s, &len, 1)` writes it.

A presence server answers with documents it parses and re-serialises (the NOTIFY body of a PUBLISH is
libxml2's dump of the published one, aggregated with the other publications), so the bytes on the
wire depend on libxml2's rules; this module follows them, and tests/test_libxml.py holds it to the
system's libxml2 through ctypes:

* parsing (`parse`, xmlParseMemory): whitespace between elements is kept as text nodes (libxml2's
  default `keepBlanks`), namespace declarations become the element's `ns_defs` in document order, the
  XML declaration's version, encoding and standalone are kept; text outside the root is dropped,
  comments and processing instructions there are kept;
* writing (`XmlDoc.dump`): the declaration (`<?xml version="1.0" encoding="..."?>`, the encoding the
  document declared, none for a built one), then the top-level nodes each on a line; an element with
  no child is `<x/>`; namespace declarations before attributes; the children of an element are put
  on indented lines (two spaces a level) unless one of them is text, CDATA or an entity reference;
  text escapes `& < >` and CR, attribute values `& < > "` and CR, LF, TAB; characters the output
  encoding lacks (any non-ASCII one when the document declares no encoding) become `&#xHH;`;
* copying (`copy_node`, xmlCopyNode): a copied element whose namespace is declared above it in the
  original tree gets its own declaration (xmlStaticCopyNode/xmlNewNs), which is why an aggregated
  PIDF tuple carries `xmlns="urn:ietf:params:xml:ns:pidf"`; `add_child` merges adjacent text as
  xmlAddChild does;
* the look-ups presence_xml uses (pidf.c): children and descendants by name without regard to case
  or namespace, attributes by name, an element's text content.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from xml.parsers import expat

__all__ = ["XmlError", "XmlNs", "XmlNode", "XmlDoc", "parse", "copy_node", "new_doc"]

XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
INDENT = "  "
MAX_INDENT = 60  # xmlSaveCtxt's indent_nr: deeper levels are indented no further


class XmlError(ValueError):
    """A document libxml2 would refuse (xmlParseMemory returns NULL)."""


@dataclass(eq=False)
class XmlNs:
    """A namespace declaration (xmlNs): `xmlns="href"` or `xmlns:prefix="href"`."""

    href: str
    prefix: str | None = None


_XML_NS = XmlNs(XML_NAMESPACE, "xml")


@dataclass(eq=False)
class XmlNode:
    """A node of the tree (xmlNode). `kind` is element, text, cdata, comment or pi; `name` an
    element's local name (its qualified name when its prefix is undeclared), a PI's target; `content`
    the text of text, CDATA, comment and PI nodes."""

    kind: str
    name: str = ""
    content: str = ""
    ns: XmlNs | None = None
    ns_defs: list[XmlNs] = field(default_factory=list)
    attrs: list[tuple[str, XmlNs | None, str]] = field(default_factory=list)  # (name, ns, value)
    children: list[XmlNode] = field(default_factory=list)
    parent: XmlNode | None = None

    # ------------------------------------------------------------ building
    def add_child(self, node: XmlNode) -> XmlNode:
        """xmlAddChild: append `node`; text next to text is merged into it."""
        if node.kind == "text" and self.children and self.children[-1].kind == "text":
            self.children[-1].content += node.content
            return self.children[-1]
        node.parent = self
        self.children.append(node)
        return node

    def new_child(self, name: str, text: str | None = None) -> XmlNode:
        """xmlNewChild(node, NULL, name, text): an element child with optional text."""
        child = XmlNode("element", name, ns=self.ns)
        if text:
            child.add_child(XmlNode("text", content=text))
        return self.add_child(child)

    def set_prop(self, name: str, value: str) -> None:
        """xmlNewProp / xmlSetProp: an attribute (one named `xmlns` stays an attribute)."""
        for i, (aname, ans, _) in enumerate(self.attrs):
            if aname == name and ans is None:
                self.attrs[i] = (name, None, value)
                return
        self.attrs.append((name, None, value))

    def set_content(self, text: str) -> None:
        """xmlNodeSetContent: the element's children replaced by one text node."""
        self.children = []
        if text:
            self.add_child(XmlNode("text", content=text))

    def unlink(self) -> None:
        """xmlUnlinkNode."""
        if self.parent is not None:
            self.parent.children = [c for c in self.parent.children if c is not self]
            self.parent = None

    # ------------------------------------------------------------ looking up (pidf.c)
    @property
    def qname(self) -> str:
        return f"{self.ns.prefix}:{self.name}" if self.ns is not None and self.ns.prefix else self.name

    def child(self, name: str) -> XmlNode | None:
        """xmlNodeGetChildByName: the first child of that name, case-insensitive, any namespace."""
        lowered = name.lower()
        return next((c for c in self.children if c.name.lower() == lowered and c.kind != "text"), None)

    def find(self, name: str, prefix: str | None = None) -> XmlNode | None:
        """xmlNodeGetNodeByName on this node and its following siblings, depth first."""
        siblings = self.parent.children if self.parent is not None else [self]
        start = next(i for i, c in enumerate(siblings) if c is self) if self.parent is not None else 0
        return _find_in(siblings[start:], name.lower(), prefix)

    def descendant(self, name: str, prefix: str | None = None) -> XmlNode | None:
        """The first of this node or a descendant with that name (the node's siblings excluded)."""
        return _find_in([self], name.lower(), prefix)

    def attr(self, name: str) -> str | None:
        """xmlNodeGetAttrContentByName: an attribute's value by name, case-insensitive."""
        lowered = name.lower()
        return next((value for aname, _, value in self.attrs if aname.lower() == lowered), None)

    @property
    def text(self) -> str:
        """xmlNodeGetContent: the text of the node and its descendants."""
        if self.kind in ("text", "cdata", "comment", "pi"):
            return self.content
        return "".join(c.text for c in self.children if c.kind in ("text", "cdata", "element"))

    @property
    def next(self) -> XmlNode | None:
        if self.parent is None:
            return None
        siblings = self.parent.children
        i = next(i for i, c in enumerate(siblings) if c is self)
        return siblings[i + 1] if i + 1 < len(siblings) else None


def _find_in(nodes: list[XmlNode], lowered: str, prefix: str | None) -> XmlNode | None:
    for node in nodes:
        if node.kind != "text" and node.name.lower() == lowered and (
                prefix is None or (node.ns is not None and (node.ns.prefix or "").lower() == prefix.lower())):
            return node
        found = _find_in(node.children, lowered, prefix)
        if found is not None:
            return found
    return None


@dataclass(eq=False)
class XmlDoc:
    """A document (xmlDoc): the XML declaration's parts and the top-level nodes."""

    version: str = "1.0"
    encoding: str | None = None
    standalone: int = -1  # -1: not declared, 0: "no", 1: "yes"
    nodes: list[XmlNode] = field(default_factory=list)
    doctype: str | None = None

    @property
    def root(self) -> XmlNode | None:
        """xmlDocGetRootElement."""
        return next((n for n in self.nodes if n.kind == "element"), None)

    def set_root(self, node: XmlNode) -> XmlNode:
        """xmlDocSetRootElement."""
        node.parent = None
        old = self.root
        if old is None:
            self.nodes.append(node)
        else:
            self.nodes[self.nodes.index(old)] = node
        return node

    def find(self, name: str, prefix: str | None = None) -> XmlNode | None:
        """xmlDocGetNodeByName: the first node of that name, depth first from the top."""
        return _find_in(self.nodes, name.lower(), prefix)

    def dump(self, fmt: bool = True) -> bytes:
        """xmlDocDumpFormatMemory(doc, &s, &len, fmt)."""
        return _Writer(self, fmt).document()


def new_doc(root_name: str | None = None) -> XmlDoc:
    """xmlNewDoc("1.0") and, with a name, xmlNewNode + xmlDocSetRootElement."""
    doc = XmlDoc()
    if root_name is not None:
        doc.set_root(XmlNode("element", root_name))
    return doc


# ---------------------------------------------------------------- parsing

_DECL = re.compile(rb"^\s*<\?xml\s")


def parse(data: bytes | str) -> XmlDoc:
    """xmlParseMemory: the document's tree, XmlError for one libxml2 refuses."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return _Builder().run(raw)


class _Builder:
    def __init__(self) -> None:
        self.doc = XmlDoc()
        self.stack: list[XmlNode] = []
        self.scopes: list[list[XmlNs]] = []
        self.cdata: XmlNode | None = None

    def run(self, raw: bytes) -> XmlDoc:
        if not raw.strip():
            raise XmlError("empty document")
        parser = expat.ParserCreate()
        parser.ordered_attributes = True
        parser.buffer_text = True
        parser.XmlDeclHandler = self.decl
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.characters
        parser.CommentHandler = self.comment
        parser.ProcessingInstructionHandler = self.pi
        parser.StartCdataSectionHandler = self.start_cdata
        parser.EndCdataSectionHandler = self.end_cdata
        parser.StartDoctypeDeclHandler = self.doctype
        try:
            parser.Parse(raw, True)
        except expat.ExpatError as exc:
            raise XmlError(str(exc)) from exc
        if self.doc.root is None:
            raise XmlError("no root element")
        return self.doc

    def decl(self, version: str | None, encoding: str | None, standalone: int) -> None:
        self.doc.version = version or "1.0"
        self.doc.encoding = encoding
        self.doc.standalone = standalone

    def doctype(self, name: str, sysid: str | None, pubid: str | None, has_internal: int) -> None:
        if pubid:
            self.doc.doctype = f'<!DOCTYPE {name} PUBLIC "{pubid}" "{sysid}">'
        elif sysid:
            self.doc.doctype = f'<!DOCTYPE {name} SYSTEM "{sysid}">'
        else:
            self.doc.doctype = f"<!DOCTYPE {name}>"

    def _lookup(self, prefix: str | None) -> XmlNs | None:
        if prefix == "xml":
            return _XML_NS
        for scope in reversed(self.scopes):
            for ns in reversed(scope):
                if ns.prefix == prefix:
                    return ns if (ns.href or prefix is None) else None
        return None

    def start(self, qname: str, attributes: list[str]) -> None:
        decls: list[XmlNs] = []
        plain: list[tuple[str, str]] = []
        for i in range(0, len(attributes), 2):
            name, value = attributes[i], attributes[i + 1]
            if name == "xmlns":
                decls.append(XmlNs(value, None))
            elif name.startswith("xmlns:"):
                decls.append(XmlNs(value, name[6:]))
            else:
                plain.append((name, value))
        self.scopes.append(decls)
        prefix, _, local = qname.rpartition(":")
        ns = self._lookup(prefix or None)
        node = XmlNode("element", local if (ns is not None or not prefix) else qname, ns=ns, ns_defs=decls)
        if ns is not None and not ns.href:
            node.ns = None
        for name, value in plain:
            aprefix, _, alocal = name.rpartition(":")
            ans = self._lookup(aprefix) if aprefix else None
            node.attrs.append((alocal if ans is not None else name, ans, value))
        if self.stack:
            self.stack[-1].add_child(node)
        else:
            self.doc.nodes.append(node)
        self.stack.append(node)

    def end(self, qname: str) -> None:
        self.stack.pop()
        self.scopes.pop()

    def characters(self, text: str) -> None:
        if self.cdata is not None:
            self.cdata.content += text
        elif self.stack:
            self.stack[-1].add_child(XmlNode("text", content=text))

    def comment(self, text: str) -> None:
        node = XmlNode("comment", content=text)
        (self.stack[-1].add_child(node) if self.stack else self.doc.nodes.append(node))

    def pi(self, target: str, data: str) -> None:
        node = XmlNode("pi", target, content=data)
        (self.stack[-1].add_child(node) if self.stack else self.doc.nodes.append(node))

    def start_cdata(self) -> None:
        if not self.stack:
            return
        parent = self.stack[-1]
        if parent.children and parent.children[-1].kind == "cdata":
            self.cdata = parent.children[-1]  # libxml2 coalesces adjacent CDATA sections
            return
        self.cdata = XmlNode("cdata", parent=parent)
        parent.children.append(self.cdata)

    def end_cdata(self) -> None:
        self.cdata = None


# ---------------------------------------------------------------- copying (tree.c)

def search_ns(node: XmlNode | None, prefix: str | None) -> XmlNs | None:
    """xmlSearchNs: the declaration of `prefix` in scope at `node` (its own, then its ancestors')."""
    if prefix == "xml":
        return _XML_NS
    orig = node
    while node is not None:
        if node.kind == "element":
            for ns in node.ns_defs:
                if ns.prefix == prefix and (prefix is not None or ns.href is not None):
                    return ns
            if node is not orig and node.ns is not None and node.ns.prefix == prefix:
                return node.ns
        node = node.parent
    return None


def _new_ns(node: XmlNode, href: str, prefix: str | None) -> XmlNs | None:
    """xmlNewNs(node, href, prefix): a declaration added to `node`, None when the prefix is there."""
    if prefix == "xml" or any(ns.prefix == prefix for ns in node.ns_defs):
        return None
    ns = XmlNs(href, prefix)
    node.ns_defs.append(ns)
    return ns


def copy_node(node: XmlNode, extended: int = 1) -> XmlNode:
    """xmlCopyNode(node, extended): 1 copies the subtree, 2 the element with its attributes and
    namespaces only."""
    return _copy(node, None, extended)


def _top(node: XmlNode) -> XmlNode:
    while node.parent is not None:
        node = node.parent
    return node


def _copy(node: XmlNode, parent: XmlNode | None, extended: int) -> XmlNode:
    ret = XmlNode(node.kind, node.name, node.content)
    if parent is not None:
        ret.parent = parent
    if node.kind != "element" or not extended:
        return ret
    ret.ns_defs = [XmlNs(ns.href, ns.prefix) for ns in node.ns_defs]
    if node.ns is not None:
        ns = search_ns(ret, node.ns.prefix)
        if ns is None:
            original = search_ns(node, node.ns.prefix)
            ret.ns = _new_ns(_top(ret), original.href, original.prefix) if original is not None \
                else _new_ns(ret, node.ns.href, node.ns.prefix)
        else:
            ret.ns = ns
    for name, ans, value in node.attrs:
        copied = None
        if ans is not None:
            copied = search_ns(ret, ans.prefix)
            if copied is None:
                original = search_ns(node, ans.prefix) or ans
                copied = _new_ns(_top(ret), original.href, original.prefix)
        ret.attrs.append((name, copied, value))
    if extended == 1:
        for child in node.children:
            ret.children.append(_copy(child, ret, 1))
    return ret


# ---------------------------------------------------------------- writing (xmlsave.c)

_TEXT_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}
_ATTR_ESCAPES = {**_TEXT_ESCAPES, '"': "&quot;", "\n": "&#10;", "\t": "&#9;"}
_TEXT_SPECIAL = re.compile(r"[&<>\r]")
_ATTR_SPECIAL = re.compile(r'[&<>"\r\n\t]')


class _Writer:
    def __init__(self, doc: XmlDoc, fmt: bool) -> None:
        self.doc = doc
        self.fmt = fmt
        self.encoding = doc.encoding
        codec = None
        if self.encoding:
            try:
                codec = codecs.lookup(self.encoding).name
            except LookupError:
                codec = None
        self.codec = codec
        self.out: list[str] = []

    # -- escaping --
    def _chars(self, text: str) -> str:
        """Characters the output encoding cannot carry as character references."""
        if self.codec in ("utf-8", "utf-16", "utf-32"):
            return text
        out = []
        for ch in text:
            if ord(ch) < 0x80:
                out.append(ch)
            elif self.codec is None:
                out.append(f"&#x{ord(ch):X};")
            else:
                try:
                    ch.encode(self.codec)
                    out.append(ch)
                except UnicodeEncodeError:
                    out.append(f"&#{ord(ch)};")
        return "".join(out)

    def _text(self, text: str) -> str:
        return self._chars(_TEXT_SPECIAL.sub(lambda m: _TEXT_ESCAPES[m.group()], text))

    def _attr(self, text: str) -> str:
        return self._chars(_ATTR_SPECIAL.sub(lambda m: _ATTR_ESCAPES[m.group()], text))

    @staticmethod
    def _quoted(text: str) -> str:
        """xmlBufWriteQuotedString."""
        if '"' in text:
            return f"'{text}'" if "'" not in text else '"' + text.replace('"', "&quot;") + '"'
        return f'"{text}"'

    # -- the document --
    def document(self) -> bytes:
        doc = self.doc
        decl = f"<?xml version={self._quoted(doc.version)}"
        if doc.encoding:
            decl += f" encoding={self._quoted(doc.encoding)}"
        if doc.standalone == 0:
            decl += ' standalone="no"'
        elif doc.standalone == 1:
            decl += ' standalone="yes"'
        self.out.append(decl + "?>\n")
        if doc.doctype:
            self.out.append(doc.doctype + "\n")
        for node in doc.nodes:
            self.node(node, 0, self.fmt)
            self.out.append("\n")
        text = "".join(self.out)
        return text.encode(self.codec or "ascii", "xmlcharrefreplace")

    def _indent(self, level: int) -> str:
        return INDENT * min(level, MAX_INDENT)

    def node(self, node: XmlNode, level: int, fmt: bool) -> None:
        kind = node.kind
        if kind == "text":
            self.out.append(self._text(node.content))
        elif kind == "cdata":
            self.out.append(f"<![CDATA[{node.content}]]>")
        elif kind == "comment":
            self.out.append(f"<!--{node.content}-->")
        elif kind == "pi":
            self.out.append(f"<?{node.name} {node.content}?>" if node.content else f"<?{node.name}?>")
        else:
            self.element(node, level, fmt)

    def element(self, node: XmlNode, level: int, fmt: bool) -> None:
        out = self.out
        out.append("<" + node.qname)
        for ns in node.ns_defs:
            name = f"xmlns:{ns.prefix}" if ns.prefix else "xmlns"
            out.append(f" {name}={self._quoted(self._attr(ns.href))}")
        for name, ns, value in node.attrs:
            qualified = f"{ns.prefix}:{name}" if ns is not None and ns.prefix else name
            out.append(f' {qualified}="{self._attr(value)}"')
        if not node.children:
            out.append("/>")
            return
        child_fmt = fmt and not any(c.kind in ("text", "cdata") for c in node.children)
        out.append(">")
        if child_fmt:
            out.append("\n")
        for child in node.children:
            if child_fmt and child.kind in ("element", "comment", "pi"):
                out.append(self._indent(level + 1))
            self.node(child, level + 1, child_fmt)
            if child_fmt:
                out.append("\n")
        if child_fmt:
            out.append(self._indent(level))
        out.append(f"</{node.qname}>")
