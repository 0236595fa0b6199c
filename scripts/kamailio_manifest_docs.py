"""What a Kamailio module's documentation (src/modules/<name>/doc/*.xml, DocBook) lists: parameters
with the type word of their title, functions, RPC methods, statistics, pseudo-variables,
transformations and event routes. Used by kamailio_manifest.py to cross-check the C export tables.

The DocBook files declare their entities in an external DTD; they are read as XML once the DOCTYPE
and XInclude elements are removed and unknown entities (`&kamailio;`) replaced by their names.
"""
from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("kamailio_manifest")

ITEM_TITLE = {
    "functions": r"([a-z_]\w*)\s*\(",
    "rpc": r"([\w-]+\.[\w.-]+)",
    "stats": r"([\w.-]+)$",
    "pvars": r"\$\(?(\w+)",
    "transforms": r"\{(\w+\.[\w.]+)",
    "event_routes": r"(?:event_route\[)?([a-z][\w.-]*:[^\s\]]+)",
}


@dataclass
class DocFacts:
    params: dict[str, str] = field(default_factory=dict)  # name -> type word of its title ("int", "str")
    functions: list[str] = field(default_factory=list)
    rpc: list[str] = field(default_factory=list)
    stats: list[str] = field(default_factory=list)
    pvars: list[str] = field(default_factory=list)
    transforms: list[str] = field(default_factory=list)
    event_routes: list[str] = field(default_factory=list)


def load_doc(path: Path) -> ET.Element | None:
    text = path.read_text(errors="replace")
    text = re.sub(r"<!DOCTYPE[^\[>]*(?:\[.*?\]\s*)?>", "", text, flags=re.S)
    text = re.sub(r"<xi:include[^>]*/>", "", text)
    text = re.sub(r"&(?!(?:lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);)([\w.-]+);", r"\1", text)
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        log.warning("%s: not readable as XML (%s)", path, exc)
        return None


def text_of(el: ET.Element | None) -> str:
    return re.sub(r"\s+", " ", "".join(el.itertext())).strip() if el is not None else ""


def read_docs(module_dir: Path) -> DocFacts:
    facts = DocFacts()
    for path in sorted((module_dir / "doc").glob("*.xml")):
        root = load_doc(path)
        if root is None:
            continue
        _walk(root, section_kind(text_of(root.find("title"))), facts)
        for m in re.finditer(r"event_route\s*\[\s*([^\]\s]+)\s*\]", text_of(root)):
            _add(facts.event_routes, m.group(1))
    return facts


def _add(items: list[str], value: str) -> None:
    if value and value not in items:
        items.append(value)


def section_kind(title: str) -> str | None:
    """Which items the sub-sections of a section titled so describe."""
    t = title.lower()
    if "event" in t and "route" in t:
        return "event_routes"
    if "rpc" in t or t.startswith("mi "):
        return "rpc"
    if "statistic" in t:
        return "stats"
    if "transformation" in t:
        return "transforms"
    if "pseudo" in t or "variables" in t:
        return "pvars"
    if "parameter" in t:
        return "params"
    if "function" in t:
        return "functions"
    return None


def _walk(el: ET.Element, kind: str | None, facts: DocFacts) -> None:
    for child in el:
        if child.tag not in ("section", "chapter"):
            continue
        title_el = child.find("title")
        title = text_of(title_el)
        matched = kind is not None and title_el is not None and _item(kind, title_el, title, facts)
        own = None if matched else section_kind(title)
        _walk(child, own or kind, facts)


def _item(kind: str, title_el: ET.Element, title: str, facts: DocFacts) -> bool:
    """Record the item a section title names, if it names one of `kind`."""
    if kind == "params":
        m = re.match(r"([\w.-]+)\s*\(([^)]*)\)", title)
        var = title_el.find("varname")
        if var is None or not m:
            return False
        facts.params.setdefault(text_of(var), m.group(2).strip().lower())
        return True
    m = re.match(ITEM_TITLE[kind], title, re.I if kind == "functions" else 0)
    if not m or (kind == "functions" and title_el.find("function") is None):
        return False
    _add(getattr(facts, kind), m.group(1))
    return True
