"""The export tables of a built Kamailio module (x86-64 ELF shared object), read without loading it:
the `exports` symbol's `struct module_exports`, its cmd, param, rpc and pv arrays, their names.

A module is position independent: every pointer in these tables is 0 in the file and set at load
time by a R_X86_64_RELATIVE relocation whose addend is the target's address; that is what is read
here. Struct layouts are those of Kamailio 5.6 (src/core/sr_module.h, rpc.h, pvar.h) on x86-64.
Used by `kamailio_manifest.py --check-so` to validate the source parser against real binaries.
"""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

R_X86_64_RELATIVE = 8
SHT_DYNSYM, SHT_RELA = 11, 4
PT_LOAD = 1
CMD_SIZE, PARAM_SIZE, RPC_SIZE, PV_SIZE = 48, 24, 32, 72


class Elf:
    def __init__(self, data: bytes) -> None:
        if data[:4] != b"\x7fELF" or data[4] != 2:
            raise ValueError("not a 64-bit ELF file")
        self.data = data
        (shoff,) = struct.unpack_from("<Q", data, 0x28)
        (phoff,) = struct.unpack_from("<Q", data, 0x20)
        phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", data, 0x36)
        self.loads = []
        for i in range(phnum):
            header = struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize)
            ptype, offset, vaddr, filesz = header[0], header[2], header[3], header[5]
            if ptype == PT_LOAD:
                self.loads.append((vaddr, offset, filesz))
        self.sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
        self.relative: dict[int, int] = {}
        for sec in self.sections:
            if sec[1] == SHT_RELA:
                for k in range(sec[5] // 24):
                    r_offset, r_info, r_addend = struct.unpack_from("<QQq", data, sec[4] + k * 24)
                    if r_info & 0xFFFFFFFF == R_X86_64_RELATIVE:
                        self.relative[r_offset] = r_addend

    def offset(self, vaddr: int) -> int:
        for start, offset, size in self.loads:
            if start <= vaddr < start + size:
                return offset + vaddr - start
        raise ValueError(f"address {vaddr:#x} not in the file")

    def symbol(self, name: str) -> int | None:
        for sec in self.sections:
            if sec[1] != SHT_DYNSYM:
                continue
            strtab = self.sections[sec[6]]
            for k in range(sec[5] // 24):
                st_name, _, _, _, st_value, _ = struct.unpack_from("<IBBHQQ", self.data, sec[4] + k * 24)
                if self.cstring_at(strtab[4] + st_name) == name and st_value:
                    return st_value
        return None

    def cstring_at(self, file_offset: int) -> str:
        end = self.data.index(b"\0", file_offset)
        return self.data[file_offset:end].decode("utf-8", "replace")

    def pointer(self, vaddr: int) -> int:
        """The value a pointer at `vaddr` has once loaded (0 when it stays NULL)."""
        return self.relative.get(vaddr, 0)

    def string(self, vaddr: int) -> str | None:
        target = self.pointer(vaddr)
        return self.cstring_at(self.offset(target)) if target else None

    def u32(self, vaddr: int) -> int:
        return struct.unpack_from("<I", self.data, self.offset(vaddr))[0]

    def i32(self, vaddr: int) -> int:
        return struct.unpack_from("<i", self.data, self.offset(vaddr))[0]


def _array(elf: Elf, start: int, size: int) -> list[int]:
    """Addresses of the entries of a NULL-name-terminated array."""
    entries = []
    addr = start
    while start and elf.pointer(addr):
        entries.append(addr)
        addr += size
    return entries


def read_exports(path: Path) -> dict[str, Any] | None:
    """{"cmds": [(name, param_no, flags)], "params": [(name, type)], "rpc": [...], "pvars": [...]} of a
    module binary's `exports`, or None when it has none."""
    elf = Elf(path.read_bytes())
    exports = elf.symbol("exports")
    if exports is None:
        return None
    cmds = elf.pointer(exports + 16)
    params = elf.pointer(exports + 24)
    rpcs = elf.pointer(exports + 32)
    pvs = elf.pointer(exports + 40)
    return {
        "name": elf.string(exports),
        "cmds": [(elf.string(a), elf.i32(a + 16), elf.u32(a + 40)) for a in _array(elf, cmds, CMD_SIZE)],
        "params": [(elf.string(a), elf.u32(a + 8)) for a in _array(elf, params, PARAM_SIZE)],
        "rpc": [elf.string(a) for a in _array(elf, rpcs, RPC_SIZE)],
        "pvars": [elf.string(a) for a in _array(elf, pvs, PV_SIZE)],
    }
