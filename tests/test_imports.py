"""devshell.imports: other tools' names and versions mapped to the catalogue,
one table; what has no equivalent becomes a note, never a guess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devshell import catalog, imports
from devshell.imports import aliases


def test_every_alias_names_a_catalogue_tool() -> None:
    assert set(aliases.ALIASES.values()) <= set(catalog.entries())
    assert {target for _, target, _ in aliases.VERSIONED} <= set(catalog.entries())


@pytest.mark.parametrize(("name", "version", "key", "constraint"), [
    ("nodejs", "lts-hydrogen", "node", "18"),
    ("node", "lts", "node", aliases.LTS_LINES[aliases.NEWEST_LTS]),
    ("nodejs_20", "20.11.1", "node", "20.11.1"),
    ("nodejs-slim_22", "", "node", "22"),
    ("python312", "latest", "python", "3.12"),
    ("go_1_22", "latest", "go", "1.22"),
    ("npm:@biomejs/biome", "1.9", "npm:@biomejs/biome", "1.9"),
    ("npm:prettier", "beta", "npm:prettier", "beta"),  # npm's dist-tags are npm versions
    ("pip:black", "24.8.0", "pypi:black", "24.8.0"),
    ("core:node", "v22.1.0", "node", "22.1.0"),
    ("kubernetes-helm", "3.15", "helm", "3.15"),
    ("github-cli", "2.55.0", "gh", "2.55.0"),
])
def test_names_and_versions_map_to_the_catalogue(tmp_path: Path, name: str, version: str, key: str,
                                                  constraint: str) -> None:
    path = tmp_path / "devbox.json"
    path.write_text(json.dumps({"packages": {name: version}}))
    found = imports.read(path)
    assert [(r.key, r.constraint) for r in found.requests] == [(key, constraint)]


@pytest.mark.parametrize(("name", "version"), [
    ("python", "system"), ("python", "pypy3.10-7.3.16"), ("node", "lts/-1"), ("node", "path:/opt/node"),
    ("pipx:psf/black", "latest"), ("ubi:cli/cli", "2"), ("aqua:hashicorp/terraform", "1.9"),
    ("npm:Not A Name", "1"), ("java", "21"),
])
def test_what_has_no_equivalent_is_a_note(tmp_path: Path, name: str, version: str) -> None:
    path = tmp_path / "mise.toml"
    path.write_text(f'[tools]\n"{name}" = "{version}"\n')
    found = imports.read(path)
    assert found.requests == () and len(found.notes) == 1
    assert found.notes[0].startswith(f"{path}: tools: {name} {version}")
