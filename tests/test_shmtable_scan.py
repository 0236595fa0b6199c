"""A scan of a shared table's keys (usrloc's expiry timer) reads only the pages of its index that hold
live entries (issue 19: each run copied the whole 8 MiB index and mapped all of it into the worker)."""
from __future__ import annotations

import ctypes
import mmap
from pathlib import Path

from kampy.runtime.shmtable import ShmTable

INDEX_KIB = (1 << 16) * 32 // 1024  # the index of a table of 65536 entries: 2 MiB


def _mapped_kib(m: mmap.mmap) -> int:
    """The resident pages of mapping `m` in this process (/proc/self/smaps), in KiB."""
    view = ctypes.c_char.from_buffer(m)
    address = ctypes.addressof(view)
    del view  # (an exported buffer would keep the mapping from closing)
    inside = False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            first = line.split()[0]
            if "-" in first and not first.endswith(":"):
                low, high = (int(x, 16) for x in first.split("-"))
                inside = low <= address < high
            elif inside and first == "Rss:":
                return int(line.split()[1])
    raise AssertionError("mapping not found")


def _fresh_mapping(path: Path) -> ShmTable:
    return ShmTable(path, capacity=1 << 16)


def test_a_scan_of_a_few_keys_maps_only_the_index_pages_holding_them(tmp_path: Path) -> None:
    table = ShmTable(tmp_path / "usrloc", capacity=1 << 16)
    with table.transaction():
        for n in range(3):
            table.put(f"aor{n}".encode(), b"contacts", extra=n)
    scanner = _fresh_mapping(tmp_path / "usrloc")  # as the worker running the timer
    try:
        for _ in range(3):
            assert sorted(scanner.keys()) == [b"aor0", b"aor1", b"aor2"]
        assert _mapped_kib(scanner._map) < INDEX_KIB // 4
    finally:
        scanner.close()
        table.close()


def test_a_scan_after_every_key_was_deleted_maps_no_page_of_the_index(tmp_path: Path) -> None:
    table = ShmTable(tmp_path / "usrloc", capacity=1 << 16)
    for n in range(50):
        table.put(f"aor{n}".encode(), b"contacts")
    for n in range(50):
        table.delete(f"aor{n}".encode())
    scanner = _fresh_mapping(tmp_path / "usrloc")
    try:
        assert scanner.keys() == []
        assert _mapped_kib(scanner._map) < INDEX_KIB // 8
    finally:
        scanner.close()
        table.close()


def test_every_live_key_is_listed_through_deletes_rebuilds_and_growths(tmp_path: Path) -> None:
    # an index of several pages, rebuilt (tombstones) and grown: the pages' counts follow it
    table = ShmTable(tmp_path / "usrloc", capacity=512, heap_size=1 << 16, max_capacity=4096)
    try:
        live: set[bytes] = set()
        for n in range(3000):
            key = f"k{n % 700}".encode()
            if key in live and n % 3 == 0:
                table.delete(key)
                live.discard(key)
            else:
                table.put(key, b"v")
                live.add(key)
        assert table.generation >= 1
        assert sorted(table.keys()) == sorted(live)
    finally:
        table.close()
