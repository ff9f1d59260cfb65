"""Just enough of an ELF reader to decide what relocation a file needs.

Reads the header, the program headers and the dynamic section (NEEDED,
SONAME, RPATH/RUNPATH) with a handful of small reads, so scanning a tree of
thousands of files costs far less than asking patchelf about each one.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["ET_DYN", "ET_EXEC", "MAGIC", "Elf", "read"]

MAGIC = b"\x7fELF"
ET_EXEC, ET_DYN = 2, 3
_PT_LOAD, _PT_DYNAMIC, _PT_INTERP = 1, 2, 3
_DT_NEEDED, _DT_STRTAB, _DT_STRSZ, _DT_SONAME, _DT_RPATH, _DT_RUNPATH = 1, 5, 10, 14, 15, 29
_MAX_TABLE = 1 << 24  # no honest string or program header table is this big


@dataclass(frozen=True)
class Elf:
    """What relocation needs to know about one ELF file."""

    type: int  # e_type: ET_EXEC, ET_DYN, …
    machine: int  # e_machine
    bits: int  # 32 or 64
    interpreter: str | None  # PT_INTERP
    dynamic: bool  # has PT_DYNAMIC: statically linked files do not
    needed: tuple[str, ...]
    soname: str | None
    runpath: tuple[str, ...]  # DT_RUNPATH, else DT_RPATH, split on ':'


def read(f: BinaryIO) -> Elf | None:
    """The ELF facts of the open file `f`, or None if it is not a well-formed ELF."""
    try:
        return _read(f)
    except (struct.error, ValueError, UnicodeDecodeError, OSError):
        return None


def _read(f: BinaryIO) -> Elf | None:
    ident = _at(f, 0, 16)
    if ident[:4] != MAGIC or ident[4] not in (1, 2) or ident[5] not in (1, 2):
        return None
    bits = 64 if ident[4] == 2 else 32
    end = "<" if ident[5] == 1 else ">"
    if bits == 64:
        fields = struct.unpack(end + "HHIQQQIHHHHHH", _at(f, 16, 48))
    else:
        fields = struct.unpack(end + "HHIIIIIHHHHHH", _at(f, 16, 36))
    e_type, machine, phoff, phentsize, phnum = fields[0], fields[1], fields[4], fields[8], fields[9]
    if phnum * phentsize > _MAX_TABLE:
        return None
    segments = []  # (type, offset, vaddr, filesz)
    ph_format = end + ("IIQQQQQQ" if bits == 64 else "IIIIIIII")
    table = _at(f, phoff, phnum * phentsize)
    for i in range(phnum):
        raw = struct.unpack_from(ph_format, table, i * phentsize)
        if bits == 64:
            segments.append((raw[0], raw[2], raw[3], raw[5]))
        else:
            segments.append((raw[0], raw[1], raw[2], raw[4]))
    interpreter = None
    dynamic: tuple[int, int] | None = None
    for p_type, offset, _, filesz in segments:
        if p_type == _PT_INTERP and filesz <= 4096:
            interpreter = _at(f, offset, filesz).split(b"\0", 1)[0].decode()
        elif p_type == _PT_DYNAMIC and filesz <= _MAX_TABLE:
            dynamic = (offset, filesz)
    if dynamic is None:
        return Elf(e_type, machine, bits, interpreter, False, (), None, ())
    entry = end + ("qQ" if bits == 64 else "iI")
    size = struct.calcsize(entry)
    data = _at(f, dynamic[0], dynamic[1])
    tags: list[tuple[int, int]] = []
    for pos in range(0, len(data) - size + 1, size):
        tag, value = struct.unpack_from(entry, data, pos)
        if tag == 0:
            break
        tags.append((tag, value))
    found = dict(tags)
    strtab = _file_offset(segments, found.get(_DT_STRTAB, -1))
    strings = b""
    if strtab is not None and found.get(_DT_STRSZ, 0) <= _MAX_TABLE:
        strings = _at(f, strtab, found.get(_DT_STRSZ, 0))

    def text(value: int) -> str:
        return strings[value:].split(b"\0", 1)[0].decode()

    path = found.get(_DT_RUNPATH, found.get(_DT_RPATH))
    return Elf(
        type=e_type, machine=machine, bits=bits, interpreter=interpreter, dynamic=True,
        needed=tuple(text(v) for t, v in tags if t == _DT_NEEDED),
        soname=text(found[_DT_SONAME]) if _DT_SONAME in found else None,
        runpath=tuple(p for p in text(path).split(":") if p) if path is not None else (),
    )


def _at(f: BinaryIO, offset: int, size: int) -> bytes:
    f.seek(offset)
    data = f.read(size)
    if len(data) != size:
        raise ValueError("truncated ELF file")
    return data


def _file_offset(segments: list[tuple[int, int, int, int]], vaddr: int) -> int | None:
    """Where the loaded address `vaddr` lies in the file."""
    for p_type, offset, start, filesz in segments:
        if p_type == _PT_LOAD and start <= vaddr < start + filesz:
            return vaddr - start + offset
    return None
