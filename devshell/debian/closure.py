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
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from debian import deb822
from debian.debian_support import Version, version_compare

from devshell import names
from devshell.errors import FetchError

__all__ = [
    "STEP_BUDGET", "Package", "PackageIndex", "Relation", "TooTangled", "Unsatisfiable",
    "closure", "is_dpkg_version", "matching", "satisfies",
]

#: How many steps one closure search may take. A search takes a few steps
#: per package it settles, more only where alternatives fail and are undone;
#: a suite built so that backtracking explodes stops here (in well under a
#: second) with a clear error instead of running for hours.
STEP_BUDGET = 100_000

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
    archive: str = "deb"  # the lock-URL scheme of the archive it comes from

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def url(self) -> str:
        """Its lock URL: the archive by scheme, never by host (`deb:pool/…`)."""
        return f"{self.archive}:{self.filename}"


def shown_chain(chain: tuple[str, ...]) -> str:
    """`a → b → c`; a long chain keeps its ends, so a message stays readable."""
    if len(chain) > 9:
        chain = (*chain[:4], f"… ({len(chain) - 8} more)", *chain[-4:])
    return " → ".join(chain)


class Unsatisfiable(Exception):
    """A dependency nothing in the suite satisfies; `chain` leads to it."""

    def __init__(self, chain: tuple[str, ...], wanted: str, detail: str) -> None:
        super().__init__(f"{shown_chain((*chain, wanted))}: {detail}")
        self.chain = chain
        self.wanted = wanted
        self.detail = detail


class TooTangled(Exception):
    """The closure search ran out of steps; `chain` is where it was."""

    def __init__(self, chain: tuple[str, ...], budget: int, deepest: Unsatisfiable | None) -> None:
        text = f"the dependency search gave up after {budget} steps, at {shown_chain(chain)}"
        if deepest is not None:
            text += f" (the deepest unmet dependency so far: {deepest})"
        super().__init__(text)
        self.chain = chain


def _field(para: str, start: int) -> str:
    """The value of the field whose name begins at `start`, continuation lines joined."""
    value, _, rest = para[start:].partition("\n")
    value = value.partition(":")[2]
    for line in rest.split("\n"):
        if not line.startswith((" ", "\t")):
            break
        value += " " + line
    return value.strip()


def is_dpkg_version(value: object) -> bool:
    """dpkg's version syntax ([epoch:]upstream[-revision], upstream starting
    with a digit) and safe in a store name (devshell.names)."""
    try:
        parsed = Version(names.check_version(value))
    except ValueError:
        return False
    return (parsed.upstream_version or "")[:1].isdigit()


class _Malformed(Exception):
    """A field of a Packages paragraph is not what dpkg would accept."""

    def __init__(self, field: str, what: str) -> None:
        super().__init__(f"{field} {what}")
        self.field = field


def _relations(field: str, raw: str, arch: str) -> tuple[Group, ...]:
    """A relation field (`a (>= 1) | b, c:any`) as groups of alternatives;
    python-debian returns what it cannot parse as a raw name, which no plain
    name check lets through."""
    groups: list[Group] = []
    if not raw.strip():
        return ()
    for alternatives in deb822.PkgRelation.parse_relations(raw):
        group = []
        for alt in alternatives:
            name, qual = alt["name"], alt.get("archqual")
            op, version = alt.get("version") or (None, None)
            if not names.is_plain(name) or not (qual is None or names.is_plain(qual)) \
                    or not (version is None or is_dpkg_version(version)):
                shown = f"{name}{':' + qual if qual else ''}{f' ({op} {version})' if op else ''}"
                raise _Malformed(field, f"holds {shown!r}, which is not a package relation"[:300])
            # pkg:any / pkg:native are satisfied by this architecture's package;
            # another architecture's (pkg:i386) never is, in a one-architecture index.
            if qual not in (None, "any", "native", arch):
                name = f"{name}:{qual}"
            group.append(Relation(name, op, version))
        if group:
            groups.append(tuple(group))
    return tuple(groups)


class PackageIndex:
    """One architecture's packages (from one or more Packages texts: several
    components, several suites; `origins`, the URL of each, names the index in
    errors, and `archives` the lock-URL scheme of the archive each comes from).
    A version listed by several texts is taken from the first."""

    def __init__(self, texts: Iterable[str], arch: str, origins: Iterable[str] = (),
                 archives: Iterable[str] = ()) -> None:
        self.arch = arch
        self._origins = list(origins)
        self._archives = list(archives)
        self._raw: dict[str, list[tuple[int, str]]] = {}
        self._virtual: dict[str, set[str]] = {}
        self._parsed: dict[str, list[Package]] = {}
        for number, text in enumerate(texts):
            for para in text.split("\n\n"):
                para = para.strip("\n")
                at = 0 if para.startswith("Package:") else para.find("\nPackage:") + 1
                if not para or (at == 0 and not para.startswith("Package:")):
                    continue
                name = _field(para, at)
                self._raw.setdefault(name, []).append((number, para))
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
            found: dict[str, Package] = {}
            for number, para in self._raw.get(name, ()):
                pkg = self._parse(name, number, para)
                found.setdefault(pkg.version, pkg)
            # (sorted() is stable in reverse too: equal versions keep text order)
            self._parsed[name] = sorted(found.values(), key=lambda p: Version(p.version), reverse=True)
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

    def _parse(self, name: str, number: int, para: str) -> Package:
        where = self._origins[number] if number < len(self._origins) else "the Packages index"
        archive = self._archives[number] if number < len(self._archives) else "deb"
        try:
            return _package(name, para, self.arch, archive)
        except _Malformed as exc:
            raise FetchError(
                f"{where}: package {name[:80]!r}: {exc}",
                hint="the archive (or a mirror or proxy) serves a malformed index; "
                "check [sources.deb] archive or DEVSHELL_DEB_ARCHIVE",
            ) from None


def _package(name: str, para: str, arch: str, archive: str) -> Package:
    """One Packages paragraph, every field devshell uses checked: names and
    versions become store names and paths, hashes and sizes are trusted."""
    fields = deb822.Packages(para)
    missing = [k for k in ("Package", "Version", "Filename", "SHA256", "Size") if k not in fields]
    if missing:
        raise _Malformed(missing[0], "is missing (devshell needs indexes that carry SHA256 sums)")
    if fields["Package"] != name or not names.is_plain(name):
        raise _Malformed("Package", f"{fields['Package']!r} is not a package name"[:300])
    if not is_dpkg_version(fields["Version"]):
        raise _Malformed("Version", f"{fields['Version']!r} is not a Debian version"[:300])
    if not re.fullmatch(r"[0-9a-fA-F]{64}", fields["SHA256"]):
        raise _Malformed("SHA256", f"{fields['SHA256']!r} is not a sha256 (64 hex digits)"[:300])
    if not re.fullmatch(r"[0-9]{1,15}", fields["Size"]):
        raise _Malformed("Size", f"{fields['Size']!r} is not a size in bytes"[:300])
    try:
        names.check_inner_path(fields["Filename"], "Filename")
    except ValueError:
        raise _Malformed("Filename", f"{fields['Filename']!r} is not a path inside the archive"[:300]) from None
    return Package(
        name=name,
        version=fields["Version"],
        architecture=fields.get("Architecture", arch),
        filename=fields["Filename"],
        sha256=fields["SHA256"].lower(),
        size=int(fields["Size"]),
        priority=fields.get("Priority", "optional"),
        depends=_relations("Pre-Depends", fields.get("Pre-Depends", ""), arch)
        + _relations("Depends", fields.get("Depends", ""), arch),
        provides=tuple(alt for group in _relations("Provides", fields.get("Provides", ""), arch) for alt in group),
        archive=archive,
    )


def matching(candidates: list[Package], constraint: str) -> Package | None:
    """The version `constraint` names: "latest" (the newest by dpkg's order),
    an exact Debian version, or an upstream version ("1.6" → newest 1.6-x)."""
    if not candidates:
        return None
    if constraint == "latest":
        return candidates[0]
    try:
        wanted = Version(constraint)
    except ValueError:
        return None  # not a Debian version (an npm range, say): nothing matches it
    for pkg in candidates:
        if pkg.version == constraint or version_compare(pkg.version, constraint) == 0:
            return pkg
    for pkg in candidates:
        have = Version(pkg.version)
        if wanted.epoch is not None and have.epoch != wanted.epoch:
            continue
        upstream = have.upstream_version or ""
        if upstream == constraint or (upstream.startswith(constraint) and upstream[len(constraint)] in ".+~-"):
            return pkg
    return None


def closure(index: PackageIndex, root: Package, budget: int = STEP_BUDGET) -> list[Package]:
    """`root` and every package it needs, sorted by name; Unsatisfiable names
    the chain to a dependency the suite cannot meet, TooTangled a search that
    took more than `budget` steps.

    Alternatives are tried in order, and a candidate whose own dependencies
    cannot be met is undone with everything it brought in, as apt would. The
    search keeps its own stack (a 1,500-deep Depends chain is no recursion)
    and counts its steps: a suite can be built so that backtracking takes
    2^n tries, and a lock must fail clearly rather than run for hours.
    """
    return _Search(index, root, budget).run()


class _Search:
    """One closure search: the packages chosen so far (with an undo log, so a
    failed trial is rolled back in place), and a stack of frames to resume."""

    def __init__(self, index: PackageIndex, root: Package, budget: int) -> None:
        self.index = index
        self.budget = budget
        self.steps = 0
        self.chosen: dict[str, Package] = {}
        self.provided: dict[str, list[Package]] = {}  # virtual name → chosen packages providing it
        self.log: list[str] = []
        self.deepest: Unsatisfiable | None = None  # for the message when the budget runs out
        self._add(root)
        self.stack: list[_Visit | _Satisfy] = [_Visit(root, (root.name,))]

    def run(self) -> list[Package]:
        failed: Unsatisfiable | None = None
        while self.stack:
            self._step()
            frame = self.stack[-1]
            if isinstance(frame, _Visit):
                failed = self._visit(frame, failed)
            else:
                failed = self._satisfy(frame, failed)
        if failed is not None:
            raise failed
        return sorted(self.chosen.values(), key=lambda p: p.name)

    def _step(self) -> None:
        self.steps += 1
        if self.steps > self.budget:
            frame = self.stack[-1]
            raise TooTangled(frame.chain, self.budget, self.deepest)

    def _visit(self, frame: _Visit, failed: Unsatisfiable | None) -> Unsatisfiable | None:
        """Meet the package's dependency groups one by one; a failed group fails it."""
        if failed is not None or frame.next == len(frame.pkg.depends):
            self.stack.pop()
            return failed
        group = frame.pkg.depends[frame.next]
        frame.next += 1
        if not any(self._already(rel) for rel in group):
            self.stack.append(_Satisfy(group, frame.chain, self._options(group)))
        return None

    def _satisfy(self, frame: _Satisfy, failed: Unsatisfiable | None) -> Unsatisfiable | None:
        """Try the group's candidates in order until one's dependencies are met."""
        if failed is not None:  # the candidate on trial could not be installed: undo it
            self._undo(frame.mark)
            frame.failures.append(failed)
            self._note(failed)
        elif frame.trying:  # it could: the group is met
            self.stack.pop()
            return None
        for rel, cand in frame.options:
            if cand.name in self.chosen:  # one version per package: the one taken does not fit
                frame.failures.append(Unsatisfiable(
                    frame.chain, str(rel), f"{self.chosen[cand.name].label} is already in the closure"))
                continue
            frame.trying = True
            frame.mark = len(self.log)
            self._add(cand)
            self.stack.append(_Visit(cand, (*frame.chain, cand.name)))
            return None
        self.stack.pop()
        if frame.failures:
            return max(frame.failures, key=lambda e: len(e.chain))  # the deepest reason says the most
        missing = "; ".join(_missing(self.index, rel) for rel in frame.group)
        return Unsatisfiable(frame.chain, " | ".join(map(str, frame.group)), missing)

    def _options(self, group: Group) -> Iterator[tuple[Relation, Package]]:
        for rel in group:
            for cand in _candidates(self.index, rel):
                yield rel, cand

    def _already(self, rel: Relation) -> bool:
        have = self.chosen.get(rel.name)
        if have is not None and satisfies(have.version, rel.op, rel.version):
            return True
        return any(
            p.name == rel.name and (rel.op is None or (p.version is not None and satisfies(p.version, rel.op, rel.version)))
            for pkg in self.provided.get(rel.name, ()) for p in pkg.provides
        )

    def _add(self, pkg: Package) -> None:
        self.chosen[pkg.name] = pkg
        self.log.append(pkg.name)
        for virtual in {p.name for p in pkg.provides}:
            self.provided.setdefault(virtual, []).append(pkg)

    def _undo(self, mark: int) -> None:
        while len(self.log) > mark:
            pkg = self.chosen.pop(self.log.pop())
            for virtual in {p.name for p in pkg.provides}:
                self.provided[virtual].remove(pkg)

    def _note(self, failed: Unsatisfiable) -> None:
        if self.deepest is None or len(failed.chain) > len(self.deepest.chain):
            self.deepest = failed


@dataclass
class _Visit:
    pkg: Package
    chain: tuple[str, ...]
    next: int = 0  # the next dependency group to meet


@dataclass
class _Satisfy:
    group: Group
    chain: tuple[str, ...]
    options: Iterator[tuple[Relation, Package]]
    failures: list[Unsatisfiable] = field(default_factory=list)
    trying: bool = False  # a candidate is on trial (its _Visit is above this frame)
    mark: int = 0  # the undo log's length before that candidate was added


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
