"""A tiny authoritative DNS server for tests: it answers from a table of records (dnspython's message
API) on a UDP socket it is given (bound to 127.0.0.1:53 inside a test's network namespace), and
remembers the questions it got.

    server = DnsServer(sock, {("_sip._udp.gw.test", "SRV"): ["10 0 5071 a.gw.test."],
                              ("a.gw.test", "A"): ["127.0.0.1"]})
    ...
    server.close()

A name with no record of any type is NXDOMAIN; a known name without the type asked is an empty answer.
"""
from __future__ import annotations

import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

TTL = 60


class DnsServer:
    def __init__(self, sock: socket.socket, records: dict[tuple[str, str], list[str]]) -> None:
        self.sock = sock
        self.records = {(name.lower().rstrip("."), kind.upper()): texts
                        for (name, kind), texts in records.items()}
        self.names = {name for name, _ in self.records}
        self.questions: list[tuple[str, str]] = []
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="dns-server", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            try:
                # the records in the table's order (dnspython shuffles them by default)
                self.sock.sendto(self.answer(dns.message.from_wire(data)).to_wire(want_shuffle=False), peer)
            except Exception:  # a malformed query: no answer, as a real server might do
                continue

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.AA
        for question in query.question:
            name = question.name.to_text(omit_final_dot=True).lower()
            kind = dns.rdatatype.to_text(question.rdtype)
            self.questions.append((name, kind))
            if name not in self.names:
                reply.set_rcode(dns.rcode.NXDOMAIN)
                continue
            texts = self.records.get((name, kind), [])
            if texts:
                rrset = dns.rrset.RRset(question.name, dns.rdataclass.IN, question.rdtype)
                for text in texts:
                    rrset.add(dns.rdata.from_text(dns.rdataclass.IN, question.rdtype, text), TTL)
                reply.answer.append(rrset)
        return reply

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
