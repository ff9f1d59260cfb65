"""Version constraints: exact, prefix (`"20"`), PEP 440 specifier, or `"latest"`;
npm-style ranges (`^1.2`, `~1.2.3`, `1.x`, `>=1 <2`) become specifiers, and a
bare word (`lts`, `next`) is a tag, for sources that have tags.

A bare version is both exact and a prefix: when a candidate is written the
same way, that candidate wins; otherwise the newest candidate whose release
starts with it.
So `"0.6.9"` pins 0.6.9 and `"20"` takes the newest 20.x.y, as mise does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

__all__ = ["Constraint", "choose", "parse_constraint"]

_SPECIFIER_CHARS = frozenset("<>=!~,")


@dataclass(frozen=True)
class Constraint:
    text: str  # for "specifier", the PEP 440 form
    kind: str  # "latest" | "version" | "specifier" | "tag"

    @property
    def is_exact_version(self) -> bool:
        return self.kind == "version"


def _bump(parts: list[int], index: int) -> str:
    head = [*parts[:index], parts[index] + 1]
    return ".".join(str(p) for p in head)


def _npm_range(text: str) -> str | None:
    """`^`, `~`, `x`-ranges and space-separated comparators → a PEP 440
    specifier, or None when `text` is not one of those."""
    if text.startswith(("^", "~")) and not text.startswith("~="):
        raw = text[1:].strip().lstrip("v")
        try:
            parts = [int(p) for p in raw.split(".")]
        except ValueError:
            return None
        if not 1 <= len(parts) <= 3:
            return None
        if text[0] == "~":
            index = min(1, len(parts) - 1)
        else:
            nonzero = [i for i, p in enumerate(parts) if p != 0]
            index = nonzero[0] if nonzero else len(parts) - 1
        return f">={raw},<{_bump(parts, index)}"
    if " " in text and "," not in text and "||" not in text:
        return ",".join(text.split())
    return None


def parse_constraint(text: str) -> Constraint:
    """Classify a constraint; ValueError names what is accepted."""
    stripped = text.strip()
    if stripped in ("latest", "*", "x", "X"):
        return Constraint("latest", "latest")
    if stripped.endswith((".x", ".X", ".*")) and "=" not in stripped and "<" not in stripped:
        return parse_constraint(stripped[:-2])
    npm = _npm_range(stripped)
    if npm is not None:
        stripped = npm
    if stripped.isidentifier() and not stripped[0].isdigit() and stripped[0] not in "vV":
        return Constraint(stripped, "tag")
    if any(c in _SPECIFIER_CHARS for c in stripped):
        try:
            SpecifierSet(stripped)
        except InvalidSpecifier as exc:
            raise ValueError(
                f"{text!r} is not a valid version specifier"
            ) from exc
        return Constraint(stripped, "specifier")
    try:
        Version(stripped)
    except InvalidVersion as exc:
        raise ValueError(f"{text!r} is not a version") from exc
    return Constraint(stripped, "version")


def _parse_all(candidates: Iterable[str]) -> list[tuple[Version, str]]:
    parsed = []
    for raw in candidates:
        try:
            parsed.append((Version(raw), raw))
        except InvalidVersion:
            continue  # upstreams list odd tags; they are simply not candidates
    return parsed


def choose(constraint: Constraint, candidates: Iterable[str]) -> str | None:
    """The newest candidate the constraint admits, or None."""
    parsed = _parse_all(candidates)
    if constraint.kind == "tag":
        return None  # tags are the source's business (npm dist-tags)
    if constraint.kind == "latest":
        stable = [p for p in parsed if not p[0].is_prerelease]
        return max(stable or parsed, default=(None, None))[1]
    if constraint.kind == "specifier":
        spec = SpecifierSet(constraint.text)
        ok = [p for p in parsed if spec.contains(p[0], prereleases=None)]
        return max(ok, default=(None, None))[1]
    wanted = Version(constraint.text)
    for version, raw in parsed:
        # "0.6" must not pin 0.6.0 (equal under PEP 440): only a candidate
        # written with as many components is the exact one.
        if version == wanted and len(version.release) == len(wanted.release):
            return raw
    prefix = wanted.release
    allow_pre = wanted.is_prerelease
    ok = [
        p
        for p in parsed
        if p[0].release[: len(prefix)] == prefix
        and (allow_pre or not p[0].is_prerelease)
        and p[0].epoch == wanted.epoch
    ]
    return max(ok, default=(None, None))[1]
