"""An Inventory as SPDX 2.3 JSON, built, validated and written by spdx-tools.

The document DESCRIBES the shell, which DEPENDS_ON each tool, which
DEPENDS_ON each package of its closure. Every package carries its purl (an
external reference of category PACKAGE-MANAGER) and its checksum; its
download location is the lock's URL when that is an http(s) URL SPDX takes
as one (its pattern wants a host name: not an IP address, not `localhost`),
else NOASSERTION with the lock's URL in `sourceInfo`. Licences are
NOASSERTION: a lock records none.
"""

from __future__ import annotations

import hashlib
import io
import re
from datetime import UTC, datetime

from spdx_tools.spdx.model.actor import Actor, ActorType
from spdx_tools.spdx.model.checksum import Checksum, ChecksumAlgorithm
from spdx_tools.spdx.model.document import CreationInfo, Document
from spdx_tools.spdx.model.package import (
    ExternalPackageRef,
    ExternalPackageRefCategory,
    Package,
    PackagePurpose,
)
from spdx_tools.spdx.model.relationship import Relationship, RelationshipType
from spdx_tools.spdx.model.spdx_no_assertion import SpdxNoAssertion
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
from spdx_tools.spdx.validation.uri_validators import validate_download_location
from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream

import devshell
from devshell import sbom
from devshell.errors import DevshellError
from devshell.sbom import components

__all__ = ["DOCUMENT_ID", "SHELL_ID", "write"]

DOCUMENT_ID = "SPDXRef-DOCUMENT"
SHELL_ID = "SPDXRef-shell"
_ALGORITHMS = {"sha256": ChecksumAlgorithm.SHA256, "sha512": ChecksumAlgorithm.SHA512}
_NOT_ID = re.compile(r"[^A-Za-z0-9.-]+")
#: SPDX requires a creation time: with no SOURCE_DATE_EPOCH, the Unix epoch.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def spdx_id(component: components.Component) -> str:
    """`SPDXRef-<name>-<version>-<8 hex of its ref>`: readable, and unique
    since refs are (SPDX ids allow only letters, digits, `.` and `-`)."""
    tag = hashlib.sha256(component.ref.encode()).hexdigest()[:8]
    readable = _NOT_ID.sub("-", f"{component.name}-{component.version}").strip("-")
    return f"SPDXRef-{readable}-{tag}"


def _package(c: components.Component) -> Package:
    web = c.url.startswith(("http://", "https://")) and not validate_download_location(c.url)
    return Package(
        spdx_id=spdx_id(c), name=c.name, version=c.version,
        download_location=c.url if web else SpdxNoAssertion(),
        source_info=None if web else f"devshell.lock names it {c.url}",
        files_analyzed=False,
        checksums=[Checksum(_ALGORITHMS[algo], hexdigest) for algo, hexdigest in c.hashes],
        external_references=[ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", c.purl)],
        primary_package_purpose=PackagePurpose.APPLICATION if c.tool is not None else PackagePurpose.LIBRARY,
        license_concluded=SpdxNoAssertion(), license_declared=SpdxNoAssertion(),
        copyright_text=SpdxNoAssertion(),
        comment=f"devshell tool {c.tool!r}, store output {c.output}" if c.tool is not None else None,
    )


def write(inventory: components.Inventory) -> str:
    """The SPDX 2.3 JSON document of `inventory`."""
    ids = {c.ref: spdx_id(c) for c in inventory.components}
    shell = Package(spdx_id=SHELL_ID, name=inventory.shell, download_location=SpdxNoAssertion(),
                    files_analyzed=False, primary_package_purpose=PackagePurpose.APPLICATION,
                    comment=f"the devshell of this lock, on {inventory.platform}")
    relationships = [Relationship(DOCUMENT_ID, RelationshipType.DESCRIBES, SHELL_ID)]
    relationships += [Relationship(SHELL_ID, RelationshipType.DEPENDS_ON, ids[ref]) for ref in inventory.tools]
    relationships += [Relationship(ids[ref], RelationshipType.DEPENDS_ON, ids[o])
                      for ref, on in inventory.depends for o in on]
    info = CreationInfo(
        spdx_version="SPDX-2.3", spdx_id=DOCUMENT_ID, name=f"{inventory.shell} ({inventory.platform})",
        document_namespace=f"urn:uuid:{sbom.document_uuid(inventory, 'spdx')}",
        creators=[Actor(ActorType.TOOL, f"devshell-{devshell.__version__}")],
        created=inventory.created or _EPOCH,
        creator_comment=f"devshell.lock sha256 {inventory.lock_sha256}, platform {inventory.platform}",
    )
    document = Document(info, packages=[shell, *(_package(c) for c in inventory.components)],
                        relationships=relationships)
    problems = validate_full_spdx_document(document)
    if problems:
        raise DevshellError(f"the SPDX document devshell made is not valid: {problems[0].validation_message}",
                            hint="this is devshell's fault: please report it, with the lock")
    out = io.StringIO()
    write_document_to_stream(document, out, validate=False)
    return out.getvalue() + "\n"
