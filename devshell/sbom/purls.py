"""Package URLs for what a lock names, one rule per kind of lock URL.

The lock's URL says which upstream a file came from (`pypi:`, `npm:`,
`deb:`…, see devshell.sources.locate), so it also says which purl type
names it: the table below maps a URL scheme to its rule. Anything else (a
vendor's http(s) URL, a vendor route's host-free `golang:`/`nodejs:`/
`cpython:` form, a plug-in source's) is `pkg:generic/…?download_url=` with
the URL exactly as the lock records it, so the purl is the same on every
machine whatever mirrors it is configured for.
"""

from __future__ import annotations

from collections.abc import Callable

from packageurl import PackageURL

from devshell.debian.index import debian_arch
from devshell.debian.suites import MAIN, SECURITY
from devshell.lock import upstream_scheme

__all__ = ["RULES", "purl"]

# (name, version, the lock URL's path after its scheme, platform) → purl
Rule = Callable[[str, str, str, str], PackageURL]


def _filename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _pypi(name: str, version: str, path: str, platform: str) -> PackageURL:
    """`pypi:<project>/<file>`: the project as the index names it, and the
    file, since one release has a wheel per platform (purl's `file_name`)."""
    project, sep, _ = path.partition("/")
    return PackageURL(type="pypi", name=project if sep else name, version=version,
                      qualifiers={"file_name": _filename(path)})


def _npm(name: str, version: str, path: str, platform: str) -> PackageURL:
    """`npm:<name>/-/<file>.tgz`: a scope (`@types/node`) is the purl's
    namespace, which the purl library writes as `%40types`."""
    package = path.split("/-/", 1)[0] if "/-/" in path else name
    scope, sep, base = package.rpartition("/")
    return PackageURL(type="npm", namespace=scope if sep else None, name=base, version=version)


def _deb(name: str, version: str, path: str, platform: str) -> PackageURL:
    """`deb:pool/…/<name>_<version>_<arch>.deb`: the architecture from the file
    name (`all` for arch-independent packages), else the platform's own."""
    stem = _filename(path).removesuffix(".deb")
    parts = stem.split("_")
    if len(parts) == 3 and path.endswith(".deb"):
        package, arch = parts[0], parts[2]
    else:
        package, arch = name, debian_arch(platform)
    return PackageURL(type="deb", namespace="debian", name=package, version=version,
                      qualifiers={"arch": arch})


def _generic(name: str, version: str, url: str, platform: str) -> PackageURL:
    return PackageURL(type="generic", name=name, version=version, qualifiers={"download_url": url})


#: lock URL scheme → how its files are named; Debian's two archives alike.
RULES: dict[str, Rule] = {"pypi": _pypi, "npm": _npm, MAIN: _deb, SECURITY: _deb}


def purl(name: str, version: str, url: str, platform: str) -> PackageURL:
    """The purl of the file the lock names at `url`: `name` and `version` are
    the lock's (a Debian version keeps its epoch, which file names drop)."""
    scheme = upstream_scheme(url)
    rule = RULES.get(scheme) if scheme is not None else None
    if rule is None:
        return _generic(name, version, url, platform)
    return rule(name, version, url[len(f"{scheme}:"):], platform)
