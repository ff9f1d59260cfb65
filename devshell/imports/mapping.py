"""From what a reader found to what `init --tool` takes: catalogue names and
versions devshell reads, with one note for every pin that has no faithful
equivalent (a tool outside the catalogue, a backend devshell lacks, a version
kind such as `ref:` or `system`) or that was approximated (`lts/*`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from devshell import catalog, names, sources
from devshell.imports import aliases
from devshell.imports.found import Found
from devshell.spec.edit import Request

__all__ = ["BACKENDS", "Imported", "imported"]

#: mise backends → devshell's direct sources, and the grammar of their names.
BACKENDS: dict[str, str] = {"npm": "npm", "pipx": "pypi", "pip": "pypi"}
#: Words that mean "the newest" to nvm, asdf, mise and devbox.
_NEWEST = ("latest", "node", "stable")


@dataclass(frozen=True)
class Imported:
    requests: tuple[Request, ...]
    #: one a request, in the same order: 'FILE:3: nodejs 20.11.1 as node = "20.11.1"'
    done: tuple[str, ...]
    notes: tuple[str, ...]  # one a pin not imported, or imported only approximately


def imported(pins: Iterable[Found]) -> Imported:
    """The pins devshell can take as requests (the first of each tool wins),
    and a note for each it cannot take or takes only approximately."""
    requests: dict[str, Request] = {}
    done: list[str] = []
    notes: list[str] = []
    for pin in pins:
        what = f"{pin.where}: {pin.name} {pin.version}".rstrip()
        key, source, implied = _key(pin.name)
        if key is None or source is None:
            backend = pin.name.partition(":")[0]
            notes.append(f"{what}: devshell has no source for {backend}: names; not imported"
                         if source == "backend" else f"{what} has no devshell equivalent; not imported")
            continue
        version, approximation = _version(pin.version, key, implied)
        try:
            sources.get(source).check_version(version)
        except sources.BadOption:
            notes.append(f"{what}: {pin.version!r} is not a version devshell can pin; not imported")
            continue
        request = Request(key, version)
        if request.name in requests:
            notes.append(f"{what}: {request.name} is already imported from an earlier entry; "
                         "not imported twice")
            continue
        requests[request.name] = request
        done.append(f'{what} as {key} = "{version}"')
        if approximation:
            notes.append(f"{what}: {approximation}")
        if pin.options:
            notes.append(f"{what}: its settings {', '.join(pin.options)} are not imported")
        if pin.dropped:
            notes.append(f"{what}: also lists {' '.join(pin.dropped)}; devshell pins one version "
                         f"a tool, so only {pin.version} is imported")
    return Imported(tuple(requests.values()), tuple(done), tuple(notes))


def _key(name: str) -> tuple[str | None, str | None, str | None]:
    """The [tools] key, its source and the version the name carries;
    (None, None, None) for an unknown tool, (None, "backend", None) for a
    backend devshell lacks."""
    backend, colon, rest = name.partition(":")
    if colon and backend == "core":  # mise's built-in plugins: core:node
        name, colon = rest, ""
    if colon:
        source = BACKENDS.get(backend)
        if source is None:
            return None, "backend", None
        try:
            package = names.check_package(rest, "package") if source == "npm" else names.check_plain(rest, "")
        except ValueError:
            return None, None, None
        return f"{source}:{package}", source, None
    target, implied = aliases.alias(name)
    entry = catalog.get(target)
    return (target, entry.source, implied) if entry is not None else (None, None, None)


def _version(text: str, key: str, implied: str | None) -> tuple[str, str | None]:
    """The constraint to write, and what was approximated (None: nothing)."""
    if not text:
        if implied:
            return implied, None
        return "latest", "no version given (devbox's own nixpkgs pin); locked to the newest"
    if text in _NEWEST and (text == "latest" or key == "node"):
        return implied or "latest", None
    if key == "node":
        lts = aliases.lts_major(text)
        if lts is not None:
            major, approximate = lts
            if approximate:
                return major, (f"pinned to node {major} (lts/{aliases.NEWEST_LTS}, the newest LTS "
                               "line devshell knows); change it in devshell.toml for a newer line")
            return major, None
    if text[:1] in "vV" and text[1:2].isdigit():
        return text[1:], None
    return text, None
