"""Lock URLs that name an upstream rather than a host.

Artifacts from the Python package index, the npm registry and a Debian
archive are recorded as `pypi:<project>/<file>`, `npm:<path under the
registry>` and `deb:<path under the archive>` (pool/main/…), so a lock holds
no upstream host: it is realised against whatever index or registry the
machine is configured for (a mirror included), and every byte is still
checked against the lock's hash.
"""

from __future__ import annotations

from devshell import config
from devshell.errors import FetchError

__all__ = ["concrete"]

_listed: dict[str, dict[str, str]] = {}


def concrete(url: str) -> str:
    """The URL to download from, asking the configured upstream if needed."""
    if url.startswith("npm:"):
        from pathlib import Path

        from devshell.spec import find_root

        # The project's own .npmrc counts, as it did when locking.
        return config.npm_registry(find_root(Path.cwd())).url + url[len("npm:"):]
    if url.startswith("deb:"):
        return _debian_archive() + url[len("deb:"):]
    if url.startswith("pypi:"):
        project, _, filename = url[len("pypi:"):].partition("/")
        if project not in _listed:
            from devshell.sources.pypi import read_index

            _listed[project] = {f.filename: f.url for f in read_index(project)}
        found = _listed[project].get(filename)
        if found is None:
            raise FetchError(
                f"{filename} is not listed for {project} by the Python package index "
                f"({config.pypi_index().url})",
                hint="the index (or mirror) may have removed it; `devshell lock --update` picks another",
            )
        return found
    return url


def _debian_archive() -> str:
    """The archive as the lock saw it: devshell's config, else the project's
    `[sources.deb] archive`, else apt's sources."""
    from pathlib import Path

    from devshell import spec

    root = spec.find_root(Path.cwd())
    project = spec.load(root / spec.SPEC_NAME).deb.archive if root is not None else None
    return config.debian_archive(project).url
