"""Lock URLs that name an upstream rather than a host.

Artifacts from the Python package index and the npm registry are recorded as
`pypi:<project>/<file>` and `npm:<path under the registry>`, so a lock holds
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
