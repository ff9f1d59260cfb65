"""Subresource-Integrity hashes (`sha256-<base64>`) and store-name digests."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

__all__ = [
    "ALGORITHMS",
    "digest_of",
    "from_hex",
    "hasher",
    "nix_base32",
    "parse",
    "sri",
    "to_hex",
]

ALGORITHMS = ("sha256", "sha512")
_NIX_ALPHABET = "0123456789abcdfghijklmnpqrsvwxyz"


def parse(integrity: str) -> tuple[str, bytes]:
    """Split `sha256-<base64>` into the algorithm and the raw digest.

    Raises ValueError for anything else; callers turn that into the right
    user-facing error for where the value came from.
    """
    algo, sep, b64 = integrity.partition("-")
    if not sep or algo not in ALGORITHMS:
        raise ValueError(f"not an integrity string (want sha256-… or sha512-…): {integrity!r}")
    try:
        raw = base64.b64decode(b64, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"bad base64 in integrity {integrity!r}") from exc
    if len(raw) != hashlib.new(algo).digest_size:
        raise ValueError(f"integrity {integrity!r} has the wrong length for {algo}")
    return algo, raw


def sri(algo: str, raw: bytes) -> str:
    return f"{algo}-{base64.b64encode(raw).decode('ascii')}"


def from_hex(algo: str, hexdigest: str) -> str:
    """`sha256` + hex (as in SHA256SUMS files) → SRI form."""
    raw = bytes.fromhex(hexdigest)
    if len(raw) != hashlib.new(algo).digest_size:
        raise ValueError(f"{hexdigest!r} is not a {algo} hex digest")
    return sri(algo, raw)


def to_hex(integrity: str) -> str:
    """SRI → `<algo>-<hex>`, safe as a file name (the download cache key)."""
    algo, raw = parse(integrity)
    return f"{algo}-{raw.hex()}"


def hasher(integrity: str) -> Any:
    """A fresh hashlib object of the algorithm the integrity string names."""
    algo, _ = parse(integrity)
    return hashlib.new(algo)


def nix_base32(raw: bytes) -> str:
    """Nix's base32 (no e, o, u, t), least significant bits first."""
    length = (len(raw) * 8 - 1) // 5 + 1
    out = []
    for n in range(length - 1, -1, -1):
        b = n * 5
        i, j = divmod(b, 8)
        c = raw[i] >> j
        if i + 1 < len(raw):
            c |= raw[i + 1] << (8 - j)
        out.append(_NIX_ALPHABET[c & 0x1F])
    return "".join(out)


def digest_of(value: Any) -> str:
    """32 base32 characters over the canonical JSON of `value`.

    Used for store names: the same inputs give the same name on every machine.
    """
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
    raw = hashlib.sha256(canonical.encode("utf-8")).digest()
    return nix_base32(raw[:20])
