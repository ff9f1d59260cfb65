"""The version a Go program says it is: its main module's version, from the
build information the Go toolchain embeds (`go version -m` prints the same).

Some upstreams repackage a Go tool under versions of their own (shfmt-py
4.2.0 carries shfmt v3.14.1); the catalogue marks those (`own-version =
"go"`) and the lock records the tool's own version beside the package's.

The layout (Go 1.18 and later): a 32-byte header aligned to 16 bytes, the
magic `\\xff Go buildinf:`, the pointer size, and flags whose bit 2 says the
strings follow inline, each as a uvarint length and its bytes: the Go
version, then the module information between two 16-byte sentinels, one
line per fact (`mod\\t<path>\\t<version>\\t<sum>`). Older builds hold
pointers instead; they are not read (None).
"""

from __future__ import annotations

__all__ = ["read"]

_MAGIC = b"\xff Go buildinf:"
_INLINE = 0x2


def read(data: bytes) -> str | None:
    """The main module's version (`3.14.1`, no leading v) from a Go program's
    bytes, or None when it has no inline build information or no version
    (a `(devel)` build)."""
    at = data.find(_MAGIC)
    while at != -1 and at % 16:
        at = data.find(_MAGIC, at + 1)
    if at == -1 or len(data) < at + 32 or not data[at + 15] & _INLINE:
        return None
    pos = at + 32
    strings = []
    for _ in range(2):
        size, pos = _uvarint(data, pos)
        if size is None or size > 1 << 20 or pos + size > len(data):
            return None
        strings.append(bytes(data[pos:pos + size]))
        pos += size
    info = strings[1]
    if len(info) < 33:
        return None
    for line in info[16:-16].decode("utf-8", "replace").splitlines():
        fields = line.split("\t")
        if fields[0] == "mod" and len(fields) >= 3:
            version = fields[2]
            if version.startswith("v") and version != "(devel)":
                return version[1:]
    return None


def _uvarint(data: bytes, pos: int) -> tuple[int | None, int]:
    value = shift = 0
    for _ in range(10):
        if pos >= len(data):
            return None, pos
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    return None, pos
