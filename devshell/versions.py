"""Version constraints: exact, prefix (`"20"`), PEP 440 specifier, or `"latest"`.

A bare version is both exact and a prefix: when a candidate equals it, that
candidate wins; otherwise the newest candidate whose release starts with it.
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
    text: str
    kind: str  # "latest" | "version" | "specifier"

    @property
    def is_exact_version(self) -> bool:
        return self.kind == "version"


def parse_constraint(text: str) -> Constraint:
    """Classify a constraint; ValueError names what is accepted."""
    stripped = text.strip()
    if stripped == "latest":
        return Constraint(stripped, "latest")
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
    if constraint.kind == "latest":
        stable = [p for p in parsed if not p[0].is_prerelease]
        return max(stable or parsed, default=(None, None))[1]
    if constraint.kind == "specifier":
        spec = SpecifierSet(constraint.text)
        ok = [p for p in parsed if spec.contains(p[0], prereleases=None)]
        return max(ok, default=(None, None))[1]
    wanted = Version(constraint.text)
    for version, raw in parsed:
        if version == wanted:
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
