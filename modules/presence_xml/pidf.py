"""PIDF bodies (notify_body.c): the publications of a presentity aggregated into one document, a
withdrawn publication shown closed, the dummy presence of force_dummy_presence, the single body of
force_presence_single_body; and the look-ups of pres_check_basic / pres_check_activities."""

from __future__ import annotations

import logging

from kampy.api import as_bytes, libxml

log = logging.getLogger("kampy.presence_xml")

# notify_body.c's PRESENCE_EMPTY_BODY (force_dummy_presence), the entity filled in
EMPTY_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<presence xmlns="urn:ietf:params:xml:ns:pidf"'
    ' xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"'
    ' xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"'
    ' xmlns:c="urn:ietf:params:xml:ns:pidf:cipid" entity="{entity}">'
    '<tuple xmlns="urn:ietf:params:xml:ns:pidf" id="615293b33c62dec073e05d9421e9f48b">'
    "<status>"
    "<basic>open</basic>"
    "</status>"
    "</tuple>"
    '<note xmlns="urn:ietf:params:xml:ns:pidf">Available</note>'
    '<dm:person xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"'
    ' xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" id="1">'
    "<rpid:activities/>"
    "<dm:note>Available</dm:note>"
    "</dm:person>"
    "</presence>"
)
EMPTY_BODY_SIZE = 1024


def aggregate(bodies: list[bytes]) -> bytes | None:
    """agregate_xmls(): the newest document (last) with the children of each older one appended
    (newest first), unless that one's first tuple has an id the result has already."""
    docs = []
    for body in bodies:
        try:
            docs.append(libxml.parse(body))
        except libxml.XmlError:
            log.error("while parsing xml body message")
            return None
    if not docs:
        return None
    base = docs[-1].find("presence")
    if base is None:
        log.error("while getting the xml_tree root")
        return None
    for doc in reversed(docs[:-1]):
        root = doc.find("presence")
        if root is None:
            log.error("while getting the xml_tree root")
            return None
        first = root.child("tuple")
        if first is not None:
            wanted = first.attr("id")
            if wanted is None:
                log.error("while extracting tuple id")
                return None
            if _has_tuple(base, wanted):
                continue
        for node in list(root.children):
            base.add_child(libxml.copy_node(node, 1))
    return docs[-1].dump()


def _has_tuple(root: libxml.XmlNode, wanted: str) -> bool:
    for node in root.children:
        if node.kind == "text" or node.name.lower() != "tuple":
            continue
        tid = node.attr("id")
        if tid is None:
            raise ValueError("while extracting tuple id")
        if tid.lower() == wanted.lower():
            return True
    return False


def aggregate_priority(bodies: list[bytes], priorities: str, element: str) -> bytes | None:
    """agregate_xmls_priority(): of the documents, the one whose `element` text comes latest in
    `priorities` (the newest when none is listed)."""
    docs = []
    for body in bodies:
        try:
            docs.append(libxml.parse(body))
        except libxml.XmlError:
            log.error("while parsing xml body message")
            return None
    if not docs:
        return None
    idx = len(docs) - 1
    if priorities and element:
        root = docs[idx].find("presence")
        if root is None:
            log.error("while getting the xml_tree root")
            return None
        cur = _content(root, element)
        rank = priorities.find(cur) if cur is not None else -1
        for i in range(len(docs) - 2, -1, -1):
            other = docs[i].find("presence")
            if other is None:
                log.error("while getting the xml_tree root")
                return None
            cmp = _content(other, element)
            if cur is not None and cmp is not None and cur.lower() != cmp.lower():
                found = priorities.find(cmp)
                if found > rank:
                    idx, cur, rank = i, cmp, found
    return docs[idx].dump()


def _content(root: libxml.XmlNode, name: str) -> str | None:
    """xmlNodeGetNodeContentByName(): the content of the first child of the first node of that
    name (xmlNodeGetContent(node->children)); None for a node without children, as libxml2's NULL."""
    node = root.descendant(name)
    if node is None or not node.children:
        return None
    return node.children[0].text


def offline_body(body: bytes) -> bytes | None:
    """offline_nbody(): the publication with its status closed: the presence element, its first
    tuple and that tuple's status only."""
    try:
        doc = libxml.parse(body)
    except libxml.XmlError:
        log.error("while parsing xml memory")
        return None
    basic = doc.find("basic")
    if basic is None:
        log.error("while extracting basic node")
        return None
    basic.set_content("closed")
    tuple_node, status, presence = doc.find("tuple"), doc.find("status"), doc.find("presence")
    if tuple_node is None or status is None or presence is None:
        log.error("while extracting tuple node")
        return None
    new = libxml.new_doc()
    root = new.set_root(libxml.copy_node(presence, 2))
    tuple_copy = root.add_child(libxml.copy_node(tuple_node, 2))
    tuple_copy.add_child(libxml.copy_node(status, 1))
    return new.dump()


def empty_body(user: str) -> bytes | None:
    """pres_agg_nbody_empty(): the dummy presence of `user` (open, Available)."""
    if len(user) + len(EMPTY_BODY) >= EMPTY_BODY_SIZE - 1:
        log.error("insufficient buffer to add user (its len is: %d)", len(user))
        return None
    return aggregate([as_bytes(EMPTY_BODY.format(entity=user))])


def _parsed(body: bytes) -> libxml.XmlDoc | None:
    """The document of a check_* function, or None (logged as Kamailio logs it) when it is no XML."""
    try:
        return libxml.parse(body)
    except libxml.XmlError:
        log.error("while parsing XML memory")
        return None


def check_basic(body: bytes, status: str) -> int:
    """presxml_check_basic() on a document: 1 when a tuple's <basic> starts with `status`
    (case-insensitive), else -1."""
    doc = _parsed(body)
    if doc is None:
        return -1
    node = doc.find("tuple")
    if node is None:
        log.error("unable to extract 'tuple'")
        return -1
    result = -1
    while node is not None:
        if node.name.lower() == "tuple":
            basic = node.find("basic")
            if basic is None:
                log.error("while extracting 'basic' node")
                return -1
            if basic.text[: len(status)].lower() == status.lower():
                result = 1
        node = node.next
    return result


def check_activities(body: bytes, activity: str) -> int:
    """presxml_check_activities() on a document: 1 when a person's activities name `activity`,
    -2 without a person or activities, else -1."""
    doc = _parsed(body)
    if doc is None:
        return -1
    person = doc.find("person")
    if person is None:
        log.debug("unable to extract 'person'")
        return -2
    result = -1
    while person is not None:
        if person.name.lower() == "person":
            activities = person.find("activities")
            if activities is None or not activities.children:
                return -2 if result <= 0 else result
            if activities.find(activity) is not None:
                result = 1
        person = person.next
    return result
