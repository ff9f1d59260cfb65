"""Debian packages and their dependency closure, as dpkg would see them.

A `PackageIndex` holds one architecture's Packages indexes. Paragraphs are
only routed by name up front; python-debian parses the few a closure touches
(a full Debian index holds some 60,000, and parsing them all costs seconds).

The closure follows `Pre-Depends` and `Depends` (never Recommends or
Suggests): alternatives in the order written, the first that can be satisfied
wins; virtual packages through `Provides` (versioned provides too); version
relations with dpkg's ordering; `:any`/`:native` qualifiers dropped. It keeps
`Essential` packages and libc6: the point is to need nothing from the host.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from debian import deb822
from debian.debian_support import Version, version_compare

from devshell.errors import FetchError

__all__ = ["Package", "PackageIndex", "Relation", "Unsatisfiable", "closure", "matching", "satisfies"]

_OPS: dict[str, Callable[[int], bool]] = {
    "<<": lambda c: c < 0, "<=": lambda c: c <= 0, "=": lambda c: c == 0,
    ">=": lambda c: c >= 0, ">>": lambda c: c > 0,
    "<": lambda c: c <= 0, ">": lambda c: c >= 0,  # obsolete spellings of <= and >=
}
_PRIORITY = ("required", "important", "standard", "optional", "extra")


def satisfies(version: str, op: str | None, wanted: str | None) -> bool:
    """Whether `version` meets the relation `op wanted` (no op: any version)."""
    if op is None or wanted is None:
        return True
    return _OPS[op](version_compare(version, wanted))


@dataclass(frozen=True)
class Relation:
    """One alternative of a dependency: `libonig5 (>= 6.9)`."""

    name: str
    op: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        return self.name if self.op is None else f"{self.name} ({self.op} {self.version})"


Group = tuple[Relation, ...]  # alternatives, in the order the package lists them


@dataclass(frozen=True)
class Package:
    """The fields of one Packages paragraph that locking needs."""

    name: str
    version: str
    architecture: str
    filename: str  # under the archive's root: pool/main/j/jq/jq_1.6-2.1_amd64.deb
    sha256: str
    size: int
    priority: str
    depends: tuple[Group, ...]  # Pre-Depends, then Depends
    provides: tuple[Relation, ...]

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


class Unsatisfiable(Exception):
    """A dependency nothing in the suite satisfies; `chain` leads to it."""

    def __init__(self, chain: tuple[str, ...], wanted: str, detail: str) -> None:
        super().__init__(f"{' → '.join((*chain, wanted))}: {detail}")
        self.chain = chain
        self.wanted = wanted
        self.detail = detail


def _field(para: str, start: int) -> str:
    """The value of the field whose name begins at `start`, continuation lines joined."""
    value, _, rest = para[start:].partition("\n")
    value = value.partition(":")[2]
    for line in rest.split("\n"):
        if not line.startswith((" ", "\t")):
            break
        value += " " + line
    return value.strip()


def _relations(parsed: list[list[dict[str, Any]]], arch: str) -> tuple[Group, ...]:
    groups = []
    for alternatives in parsed:
        group = []
        for alt in alternatives:
            name = str(alt["name"])
            # pkg:any / pkg:native are satisfied by this architecture's package;
            # another architecture's (pkg:i386) never is, in a one-architecture index.
            if alt.get("archqual") not in (None, "any", "native", arch):
                name = f"{name}:{alt['archqual']}"
            op, version = alt.get("version") or (None, None)
            group.append(Relation(name, op, version))
        if group:
            groups.append(tuple(group))
    return tuple(groups)


class PackageIndex:
    """One architecture's packages (from one or more components' Packages texts)."""

    def __init__(self, texts: Iterable[str], arch: str) -> None:
        self.arch = arch
        self._raw: dict[str, list[str]] = {}
        self._virtual: dict[str, set[str]] = {}
        self._parsed: dict[str, list[Package]] = {}
        for text in texts:
            for para in text.split("\n\n"):
                para = para.strip("\n")
                at = 0 if para.startswith("Package:") else para.find("\nPackage:") + 1
                if not para or (at == 0 and not para.startswith("Package:")):
                    continue
                name = _field(para, at)
                self._raw.setdefault(name, []).append(para)
                at = para.find("\nProvides:")
                if at >= 0:
                    for item in _field(para, at + 1).split(","):
                        virtual = item.split("(")[0].strip()
                        if virtual:
                            self._virtual.setdefault(virtual, set()).add(name)

    def names(self) -> list[str]:
        return sorted(self._raw)

    def packages(self, name: str) -> list[Package]:
        """Every version of the real package `name`, newest first."""
        if name not in self._parsed:
            found = [self._parse(para) for para in self._raw.get(name, ())]
            self._parsed[name] = sorted(found, key=lambda p: Version(p.version), reverse=True)
        return self._parsed[name]

    def providers(self, virtual: str) -> list[tuple[Package, Relation]]:
        """(package, what it provides) for every package that Provides `virtual`."""
        found = []
        for name in sorted(self._virtual.get(virtual, ())):
            for pkg in self.packages(name):
                found += [(pkg, rel) for rel in pkg.provides if rel.name == virtual]
        return found

    def suggest(self, name: str) -> list[str]:
        return difflib.get_close_matches(name, self._raw, n=3)

    def _parse(self, para: str) -> Package:
        fields = deb822.Packages(para)
        missing = [k for k in ("Package", "Version", "Filename", "SHA256", "Size") if k not in fields]
        if missing:
            raise FetchError(f"the Packages index lists {fields.get('Package', 'a package')} without {missing[0]}",
                             hint="devshell needs an archive whose indexes carry SHA256 sums")
        rels = fields.relations
        return Package(
            name=fields["Package"],
            version=fields["Version"],
            architecture=fields.get("Architecture", self.arch),
            filename=fields["Filename"],
            sha256=fields["SHA256"],
            size=int(fields["Size"]),
            priority=fields.get("Priority", "optional"),
            depends=_relations(rels["pre-depends"] or [], self.arch) + _relations(rels["depends"] or [], self.arch),
            provides=tuple(alt for group in _relations(rels["provides"] or [], self.arch) for alt in group),
        )


def matching(candidates: list[Package], constraint: str) -> Package | None:
    """The version `constraint` names: "latest" (the newest by dpkg's order),
    an exact Debian version, or an upstream version ("1.6" → newest 1.6-x)."""
    if not candidates:
        return None
    if constraint == "latest":
        return candidates[0]
    for pkg in candidates:
        if pkg.version == constraint or version_compare(pkg.version, constraint) == 0:
            return pkg
    wanted = Version(constraint)
    for pkg in candidates:
        have = Version(pkg.version)
        if wanted.epoch is not None and have.epoch != wanted.epoch:
            continue
        upstream = have.upstream_version or ""
        if upstream == constraint or (upstream.startswith(constraint) and upstream[len(constraint)] in ".+~-"):
            return pkg
    return None


def closure(index: PackageIndex, root: Package) -> list[Package]:
    """`root` and every package it needs, sorted by name; Unsatisfiable names
    the chain to a dependency the suite cannot meet."""
    chosen = {root.name: root}
    _visit(index, root, chosen, (root.name,))
    return sorted(chosen.values(), key=lambda p: p.name)


def _visit(index: PackageIndex, pkg: Package, chosen: dict[str, Package], chain: tuple[str, ...]) -> None:
    for group in pkg.depends:
        _satisfy(index, group, chosen, chain)


def _already(rel: Relation, chosen: dict[str, Package]) -> bool:
    have = chosen.get(rel.name)
    if have is not None and satisfies(have.version, rel.op, rel.version):
        return True
    return any(
        p.name == rel.name and (rel.op is None or (p.version is not None and satisfies(p.version, rel.op, rel.version)))
        for pkg in chosen.values() for p in pkg.provides
    )


def _candidates(index: PackageIndex, rel: Relation) -> list[Package]:
    """Real packages of that name (newest first), then its providers (by
    priority, then name): the order apt would consider them in."""
    real = [p for p in index.packages(rel.name) if satisfies(p.version, rel.op, rel.version)]
    virtual = sorted(
        (
            pkg for pkg, provided in index.providers(rel.name)
            if rel.op is None or (provided.version is not None and satisfies(provided.version, rel.op, rel.version))
        ),
        key=lambda p: (_PRIORITY.index(p.priority) if p.priority in _PRIORITY else len(_PRIORITY), p.name),
    )
    return real + [p for p in virtual if p not in real]


def _satisfy(index: PackageIndex, group: Group, chosen: dict[str, Package], chain: tuple[str, ...]) -> None:
    if any(_already(rel, chosen) for rel in group):
        return
    failures: list[Unsatisfiable] = []
    for rel in group:
        for cand in _candidates(index, rel):
            if cand.name in chosen:  # one version per package: the one already taken does not fit
                failures.append(Unsatisfiable(chain, str(rel), f"{chosen[cand.name].label} is already in the closure"))
                continue
            trial = {**chosen, cand.name: cand}
            try:
                _visit(index, cand, trial, (*chain, cand.name))
            except Unsatisfiable as exc:
                failures.append(exc)
                continue
            chosen.update(trial)
            return
    if failures:
        raise max(failures, key=lambda e: len(e.chain))  # the deepest reason says the most
    raise Unsatisfiable(chain, " | ".join(map(str, group)), "; ".join(_missing(index, rel) for rel in group))


def _missing(index: PackageIndex, rel: Relation) -> str:
    have = [p.version for p in index.packages(rel.name)]
    if have:
        return f"the suite has {rel.name} {', '.join(have)}"
    provided = index.providers(rel.name)
    if provided:
        return f"{rel.name} is provided by " + ", ".join(
            f"{pkg.label}" + (f" (as {r.version})" if r.version else " (unversioned)") for pkg, r in provided
        )
    return f"the suite has no package {rel.name}"
