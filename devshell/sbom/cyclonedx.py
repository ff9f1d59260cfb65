"""An Inventory as CycloneDX 1.6 JSON, written by cyclonedx-python-lib.

1.6 rather than the newest the library knows: it is what SBOM consumers read
today, and the same lock then gives the same bytes whatever the library's
version. The shell is the BOM's subject (metadata.component); every tool and
every package of every closure is a component with its purl and hashes, and
the dependency graph says shell → tools → their closures.
"""

from __future__ import annotations

from cyclonedx.model import (
    ExternalReference,
    ExternalReferenceType,
    HashAlgorithm,
    HashType,
    Property,
    XsUri,
)
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.dependency import Dependency
from cyclonedx.model.tool import ToolRepository
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

import devshell
from devshell import sbom
from devshell.sbom import components

__all__ = ["SHELL_REF", "write"]

SHELL_REF = "devshell-shell"  # no purl starts so: it cannot clash with a component's ref
_ALGORITHMS = {"sha256": HashAlgorithm.SHA_256, "sha512": HashAlgorithm.SHA_512}


def _component(c: components.Component) -> Component:
    properties = [Property(name="devshell:lock-url", value=c.url)]
    if c.tool is not None:
        properties += [Property(name="devshell:tool", value=c.tool)]
    if c.output is not None:
        properties += [Property(name="devshell:output", value=c.output)]
    references = [ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(c.url))] \
        if c.url.startswith(("http://", "https://")) else []
    return Component(
        name=c.name, version=c.version, bom_ref=c.ref,
        type=ComponentType.APPLICATION if c.tool is not None else ComponentType.LIBRARY,
        purl=PackageURL.from_string(c.purl),
        hashes=[HashType(alg=_ALGORITHMS[algo], content=hexdigest) for algo, hexdigest in c.hashes],
        external_references=references, properties=properties,
    )


def write(inventory: components.Inventory) -> str:
    """The CycloneDX JSON document of `inventory`, two-space indented."""
    shell = Component(name=inventory.shell, type=ComponentType.APPLICATION, bom_ref=SHELL_REF)
    made_by = Component(name="devshell", version=devshell.__version__, type=ComponentType.APPLICATION)
    metadata = BomMetaData(
        component=shell, tools=ToolRepository(components=[made_by]),
        properties=[Property(name="devshell:platform", value=inventory.platform),
                    Property(name="devshell:lock-sha256", value=inventory.lock_sha256)],
    )
    # None (no SOURCE_DATE_EPOCH) leaves the time out, as the schema allows;
    # the library types it as always there, but writes nothing for None.
    metadata.timestamp = inventory.created  # type: ignore[assignment]
    listed = {c.ref: _component(c) for c in inventory.components}
    bom = Bom(serial_number=sbom.document_uuid(inventory, "cyclonedx"), metadata=metadata,
              components=listed.values())
    bom.dependencies.add(Dependency(ref=shell.bom_ref, dependencies=[
        Dependency(ref=listed[ref].bom_ref) for ref in inventory.tools]))
    for ref, on in inventory.depends:
        bom.dependencies.add(Dependency(ref=listed[ref].bom_ref,
                                        dependencies=[Dependency(ref=listed[o].bom_ref) for o in on]))
    return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"
