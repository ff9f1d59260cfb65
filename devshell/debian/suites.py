"""The suites a deb tool is read from, as apt reads them.

For a suite S that is S itself, `S-updates` from the same archive, and
`S-security` from the security archive (apt's sources name it apart, and so
does devshell's config). Each suite's Packages indexes are checked against
that suite's own signed Release; per architecture they are read as one index,
so the newest version of a package (dpkg's order) wins wherever it is, and a
version two suites share comes from the first (the archive before its
security archive).

A package remembers its archive by the lock-URL scheme it gets there:
`deb:pool/…` for the archive, `deb-security:pool/…` for the security archive.
A missing `S-updates` is no loss (testing and unstable have none); a security
archive that is not configured, not reachable or without `S-security` is a
warning, and the lock is made from the rest: an index that does not match its
Release, or a Release that does not verify, is an error wherever it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devshell import say
from devshell.debian.closure import Package, PackageIndex
from devshell.debian.index import (
    HttpCache,
    Release,
    index_url,
    packages_index,
    read_release,
)
from devshell.errors import FetchError, SpecError
from devshell.home import Home

__all__ = ["MAIN", "SECURITY", "Archive", "Suite", "Suites", "open_suite", "read_suites"]

MAIN, SECURITY = "deb", "deb-security"  # the lock-URL schemes of the two archives


@dataclass(frozen=True)
class Archive:
    """Where one archive lives: its lock-URL scheme, base URL (ending in /),
    and the keyring its Releases are checked with (None: Debian's own)."""

    scheme: str
    url: str
    keyring: str | None = None


@dataclass
class Suite:
    """One suite of one archive, its Release read and (where it can be) verified."""

    archive: Archive
    name: str
    components: tuple[str, ...]
    cache: HttpCache
    release: Release

    def texts(self, arch: str) -> list[tuple[str, str]]:
        """(Packages text, its URL) for each component the suite has for `arch`."""
        found = []
        for component in self.components:
            text = packages_index(self.cache, self.archive.url, self.release, component, arch)
            if text is not None:
                found.append((text, index_url(self.archive.url, self.release, component, arch) or ""))
        return found


def open_suite(home: Home, archive: Archive, name: str, components: tuple[str, ...], *,
               required: bool, cache: HttpCache | None = None) -> Suite | None:
    """Read suite `name`'s Release. A suite the archive does not have is a
    SpecError when `required`, else None. So is a component its Release does
    not list (the security archive lists "updates/main" for main: either
    counts); in a suite not `required`, only the indexes it has are read."""
    cache = cache or HttpCache(home)
    try:
        release = read_release(cache, archive.url, name, archive.keyring)
    except SpecError:
        if required:
            raise
        return None
    listed = {c.rpartition("/")[2] for c in release.components}
    missing = [c for c in components if release.components and c not in listed]
    if missing and required:
        raise SpecError(
            f"the Debian suite {name!r} has no component {missing[0]!r}",
            hint=f"its components: {', '.join(release.components)}; fix [sources.deb] components",
        )
    return Suite(archive, name, components, cache, release)


@dataclass
class Suites:
    """A release and the suites apt reads with it, as one index per architecture."""

    name: str  # the release's suite, as the spec names it
    members: tuple[Suite, ...]  # the release first, then -updates, then -security
    bases: dict[str, str]  # lock-URL scheme -> base URL
    indexes: dict[str, PackageIndex | None] = field(default_factory=dict)

    @property
    def release(self) -> Release:
        return self.members[0].release

    @property
    def verified(self) -> bool:
        """Whether every suite's Release signature was checked."""
        return all(s.release.verified for s in self.members)

    def index(self, arch: str) -> PackageIndex | None:
        if arch not in self.indexes:
            read = [(text, url, s.archive.scheme) for s in self.members for text, url in s.texts(arch)]
            self.indexes[arch] = PackageIndex(
                [t for t, _, _ in read], arch, [u for _, u, _ in read], [a for _, _, a in read]
            ) if read else None
        return self.indexes[arch]

    def download_url(self, pkg: Package) -> str:
        """Where `pkg`'s .deb is fetched from at lock time."""
        return self.bases[pkg.archive] + pkg.filename


def read_suites(home: Home, main: Archive, security: Archive | None, name: str,
                components: tuple[str, ...], *, updates: bool, with_security: bool,
                security_unset: str) -> Suites:
    """`name` from `main`, with `name-updates` (when `updates`) and
    `name-security` from `security` (when `with_security`; `security_unset`
    says what to set when there is no security archive)."""
    members = [open_suite(home, main, name, components, required=True)]
    if updates:
        members.append(open_suite(home, main, f"{name}-updates", components, required=False))
    bases = {MAIN: main.url}
    if with_security:
        found = _security(home, security, f"{name}-security", components, security_unset)
        if found is not None:
            members.append(found)
            bases[SECURITY] = found.archive.url
    suites = Suites(name, tuple(m for m in members if m is not None), bases)
    unverified = [s for s in suites.members if not s.release.verified]
    if unverified:
        say.warn(f"the signature of the Debian suite "
                 f"{', '.join(repr(s.name) for s in unverified)} was not checked "
                 f"({unverified[0].release.unverified_because}); its packages are locked with "
                 "index-verified: false")
    return suites


def _security(home: Home, security: Archive | None, name: str, components: tuple[str, ...],
              unset: str) -> Suite | None:
    """The security suite, or None with a warning saying why it is not read."""
    if security is None:
        _skipped(name, f"no Debian security archive is configured ({unset})")
        return None
    cache = HttpCache(home)
    base = f"{security.url}dists/{name}/"
    try:  # reached once here, the Release is read from this cache below
        if cache.get(base + "InRelease") is None:
            cache.get(base + "Release")
    except FetchError as exc:
        _skipped(name, f"the Debian security archive cannot be reached ({exc.message})")
        return None
    # What it answers is checked as strictly as the archive's own suites.
    found = open_suite(home, security, name, components, required=False, cache=cache)
    if found is None:
        _skipped(name, f"the Debian security archive {security.url} has no suite {name!r}")
    return found


def _skipped(name: str, why: str) -> None:
    say.warn(f"{why}; locking without {name!r}, so security fixes published "
             "there are not taken")
