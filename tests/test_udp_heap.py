"""A UDP listener's reads do not fragment the C heap (issue 19's long fuzz run): each datagram is
read into the listener's buffer and copied out at its own size. Each case runs in a fresh
interpreter, as a worker starts, so that what this test process allocated before does not count."""
from __future__ import annotations

import subprocess
import sys

from tests.e2e.kampy_process import REPO

# 20,000 datagrams of 600-3,000 bytes; every 10th kept for the next 300 (a transaction holds its
# request for seconds) while short-lived objects come and go; the heap's size after a trim, in KiB
READS = """
import collections, ctypes, random, socket, sys
from kampy.net.malloc import Heap
from kampy.net.udp import UDPListener

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
        "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
heap = Heap.tuned()
kept = collections.deque(maxlen=300)
received = []

def handle(data, source):
    if len(received) % 10 == 0:
        kept.append(data)
    received.append(len(data))
    short_lived = [bytes(700) for _ in range(3)]
    return []

def read_plainly():  # what the listener did before: recvfrom(65535)
    while True:
        try:
            data, addr = sock.recvfrom(65535)
        except BlockingIOError:
            return
        handle(data, addr)

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
listener = UDPListener(None, handle, lambda outs: None, lambda: None, sock)
sock.setblocking(False)
read = listener._read_ready if sys.argv[1] == "listener" else read_plainly
sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sizes = random.Random(19)
heap.trim()
before = libc.mallinfo2().arena
for _ in range(20000 // 16):
    for _ in range(16):
        sender.sendto(b"x" * sizes.choice((600, 900, 1200, 1500, 3000)), sock.getsockname())
    read()
heap.trim()
assert len(received) == 20000, len(received)
print((libc.mallinfo2().arena - before) // 1024)
"""


def _heap_growth_kib(reader: str) -> int:
    proc = subprocess.run([sys.executable, "-c", READS, reader], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout)


def test_reading_datagrams_a_transaction_keeps_leaves_the_heap_about_as_it_was() -> None:
    assert _heap_growth_kib("listener") < 1024


def test_reading_them_with_recvfrom_of_64_kib_grows_the_heap_past_the_kept_ones() -> None:
    # what the listener's buffer prevents, so that the test above cannot pass for another reason
    assert _heap_growth_kib("plain") >= 2048
