"""Authorization by XCAP pres-rules documents (xcap_auth.c, RFC 4745/5025): the rule that applies to
a watcher (identity one/many/except, validity, sphere), the subscription state its sub-handling
gives, and the transformations that trim the document the watcher sees."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from kampy.api import ACTIVE_STATUS, PENDING_STATUS, TERMINATED_STATUS, Subscription, libxml

log = logging.getLogger("kampy.presence_xml")

_DATETIME = re.compile(r"(\d{4})-(\d{2})-(\d{2}).(\d{2}):(\d{2}):(\d{2})(?:\.\d*)?(Z|[+-]\d{2}:\d{2})?")


def parse_datetime(text: str) -> int:
    """xml_parse_dateTime(): seconds since the epoch of an XML dateTime (as mktime reads the local
    time, then the zone offset applied as Kamailio does); 0 when it does not parse."""
    m = _DATETIME.match(text.strip())
    if m is None:
        return 0
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    local = time.mktime((year, month, day, hour, minute, second, 0, 0, -1))
    zone = m.group(7)
    diff = 0
    if zone and zone != "Z":
        sign = -1 if zone[0] == "+" else 1
        diff = sign * (int(zone[1:3]) * 60 + int(zone[4:6])) * 60
    return int(local) + diff


def get_rule_node(
    subs: Subscription, doc: libxml.XmlDoc, now: int, get_sphere: Callable[[str], str | None] | None
) -> libxml.XmlNode | None:
    """get_rule_node(): the first rule whose conditions match the watcher."""
    w_uri = (
        f"sip:{subs.watcher_user}@{subs.watcher_domain}"
        if subs.watcher_user
        else f"sip:{subs.watcher_domain}"
    )
    ruleset = doc.find("ruleset")
    if ruleset is None:
        log.debug("ruleset_node NULL")
        return None
    apply_rule = -1  # as Kamailio's, it carries over from one rule to the next
    for rule in ruleset.children:
        if rule.kind == "text":
            continue
        cond = rule.child("conditions")
        if cond is None:
            log.debug("cond node NULL")
            return None
        validity = cond.child("validity")
        if validity is not None:
            valid = _valid(validity, now)
            if valid is None:
                return None
            if not valid:
                log.debug("the rule is not active at this time")
                continue
        sphere_node = cond.child("sphere")
        if sphere_node is not None and get_sphere is not None:
            sphere = get_sphere(subs.pres_uri)
            if sphere and sphere_node.text.lower() != sphere.lower():
                log.debug("sphere condition not respected")
                continue
        identity = cond.child("identity")
        if identity is None:
            log.warning("didn't find identity tag")
            continue
        if identity.child("one") is not None:
            for one in identity.children:
                if one.name.lower() != "one":
                    continue
                wid = one.attr("id")
                if wid is None:
                    log.error("while extracting attribute")
                    return None
                if wid == w_uri:
                    apply_rule = 1
                    break
        if identity.child("many") is not None:
            for many in identity.children:
                if many.name.lower() != "many":
                    continue
                domain = many.attr("domain")
                if (
                    domain is not None
                    and len(domain) != len(subs.from_domain)
                    and domain[: len(subs.from_domain)] != subs.from_domain
                ):
                    continue
                apply_rule = 1
                if not many.children:
                    break
                for except_node in many.children:
                    if except_node.name.lower() != "except":
                        continue
                    eid = except_node.attr("id")
                    if eid is not None:
                        if len(eid) - 1 == len(w_uri) and eid[: len(w_uri)] == w_uri:
                            apply_rule = 0
                            break
                    else:
                        edomain = except_node.attr("domain")
                        if edomain is not None and edomain == subs.from_domain:
                            apply_rule = 0
                            break
                if apply_rule == 1:
                    break
        if apply_rule == 1:
            return rule
    return None


def _valid(validity: libxml.XmlNode, now: int) -> bool | None:
    """A <validity>'s from/until pairs: True when `now` is within one, None when one is broken."""
    nodes = validity.children
    valid = False
    i = 0
    while i < len(nodes):
        node = nodes[i]
        if node.name.lower() != "from":
            i += 1
            continue
        start = parse_datetime(node.text)
        if start < 0:
            log.error("failed to parse xml dateTime")
            return None
        if now < start:
            i += 1
            continue
        j = i + 1
        while j < len(nodes) and nodes[j].name.lower() != "until":
            j += 1
        if j >= len(nodes):
            log.error("bad formatted xml doc:until child not found in validity pair")
            return None
        end = parse_datetime(nodes[j].text)
        if end < 0:
            log.error("failed to parse xml dateTime")
            return None
        if now <= end:
            valid = True
        i = j + 1
    return valid


def watcher_allowed(
    subs: Subscription, userdel_reason: str, now: int, get_sphere: Callable[[str], str | None] | None
) -> int:
    """pres_watcher_allowed() with a rules document: the state its sub-handling gives."""
    if subs.auth_rules_doc is None:
        subs.status, subs.reason = PENDING_STATUS, ""
        return 0
    try:
        doc = libxml.parse(subs.auth_rules_doc)
    except libxml.XmlError:
        log.error("parsing xml memory")
        return -1
    rule = get_rule_node(subs, doc, now, get_sphere)
    if rule is None:
        if subs.status != PENDING_STATUS:
            subs.status, subs.reason = TERMINATED_STATUS, userdel_reason
        return 0
    subs.status, subs.reason = PENDING_STATUS, ""
    actions = rule.child("actions")
    handling = actions.child("sub-handling") if actions is not None else None
    if handling is None:
        return 0
    action = handling.text
    if action.startswith("block"):
        subs.status, subs.reason = TERMINATED_STATUS, "rejected"
    elif action.startswith("confirm"):
        subs.status = PENDING_STATUS
    elif action.startswith("polite-block"):
        subs.status, subs.reason = ACTIVE_STATUS, "polite-block"
    elif action.startswith("allow"):
        subs.status = ACTIVE_STATUS
    else:
        log.error("unknown subscription handling action")
        return -1
    return 0


def final_notify_body(body: bytes, rule: libxml.XmlNode) -> bytes | None:
    """get_final_notify_body(): the rule's transformations applied (provide-xyz: all, none, or the
    listed classes, occurrence ids, device ids, service URIs or schemes)."""
    try:
        doc = libxml.parse(body)
    except libxml.XmlError:
        log.error("while parsing the xml body message")
        return None
    root = doc.find("presence")
    if root is None:
        log.error("while extracting the presence node")
        return None
    transformations = rule.child("transformations")
    if transformations is None:
        return doc.dump()
    for node in transformations.children:
        if node.name.lower() == "text" or node.kind == "text" or len(node.name) < 9:
            continue
        name = node.name[8:]
        if len(name) > 23:
            log.info("unsupported handling of: %s", node.name)
            continue
        all_name = "all-" + name
        if name.lower() == "services":
            name = "tuple"
        if name.startswith("person"):
            name = "person"
        doc_node = root.find(name)
        if doc_node is None:
            continue
        content = node.text
        if content.lower() == "false":
            while doc_node is not None:
                doc_node.unlink()
                doc_node = root.child(name)
            continue
        if content.lower() == "true":
            continue
        _filter(doc_node, node, name, all_name)
    return doc.dump()


def _filter(doc_node: libxml.XmlNode | None, provide: libxml.XmlNode, name: str, all_name: str) -> None:
    while doc_node is not None:
        if doc_node.kind == "text" or doc_node.name.lower() == "text":
            doc_node = doc_node.next
            continue
        if doc_node.name.lower() != name.lower():
            break
        if provide.child(all_name) is not None:
            doc_node = doc_node.next
            continue
        following = doc_node.next
        if not _provided(doc_node, provide):
            doc_node.unlink()
        doc_node = following


def _provided(doc_node: libxml.XmlNode, provide: libxml.XmlNode) -> bool:
    wanted = {
        "class": _node_content(doc_node, "class"),
        "occurence-id": doc_node.attr("id"),
        "deviceid": _node_content(doc_node, "deviceID"),
        "service-uri": _node_content(doc_node, "contact"),
    }
    service = wanted["service-uri"]
    scheme = service.split(":", 1)[0] if service and ":" in service else None
    for child in provide.children:
        if child.kind == "text":
            continue
        key = child.name.lower()
        value = scheme if key == "service-uri-scheme" else wanted.get(key)
        if value is not None and child.text.lower() == value.lower():
            return True
    return False


def _node_content(node: libxml.XmlNode, name: str) -> str | None:
    found = node.descendant(name)
    if found is None:
        return None
    first = found.children[0] if found.children else None
    return first.text if first is not None else ""
