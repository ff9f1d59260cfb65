"""Software bills of materials of a lock: `devshell sbom`.

`components` reads a lock into an Inventory (every tool, every file of every
closure, with purls and hashes); each format's writer turns that into one
document, and `WRITERS` is the table of them, imported only when used (the
format libraries take a while to import).

The same lock gives the same bytes: a document's identity (CycloneDX's
serialNumber, SPDX's documentNamespace) is a name-based UUID of the lock's
canonical bytes, the platform and the format, and its time is
SOURCE_DATE_EPOCH when set, else none where the format allows it (CycloneDX)
and the Unix epoch where it requires one (SPDX's `created`).
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable
from typing import cast

from devshell.sbom.components import Inventory

__all__ = ["FORMATS", "WRITERS", "document_uuid", "render"]

#: format → "module:function" taking an Inventory and returning the document's text.
WRITERS: dict[str, str] = {
    "cyclonedx": "devshell.sbom.cyclonedx:write",
    "spdx": "devshell.sbom.spdx:write",
}
FORMATS = tuple(WRITERS)

# Fixed: every devshell SBOM's identity is a UUID under this namespace.
_NAMESPACE = uuid.UUID("7f0c7d0e-8b7a-5c1e-9d3b-5f2a0d6e4c11")


def document_uuid(inventory: Inventory, fmt: str) -> uuid.UUID:
    """The document's identity: the same lock, shell name, platform and
    format give the same UUID, anything else another."""
    return uuid.uuid5(_NAMESPACE, f"{fmt}:{inventory.platform}:sha256:{inventory.lock_sha256}:{inventory.shell}")


def render(fmt: str, inventory: Inventory) -> str:
    """`inventory` as a document of format `fmt` (one of FORMATS)."""
    module, _, function = WRITERS[fmt].partition(":")
    write = cast(Callable[[Inventory], str], getattr(importlib.import_module(module), function))
    return write(inventory)
