"""The one table of other tools' names for devshell's catalogue names.

asdf plugins (`nodejs`, `golang`), mise's registry (`node`, `github-cli`) and
nixpkgs attributes (`python3`, `kubernetes-helm`, and names that carry a
version: `nodejs_20`, `python311`, `go_1_22`) all land here. A name that is
already a catalogue name needs no entry. Node's LTS line names (`lts/iron`)
are translated here too, since nvm, asdf and mise all write them.
"""

from __future__ import annotations

import re

__all__ = ["LTS_LINES", "NEWEST_LTS", "alias", "lts_major"]

#: Another tool's name → devshell's catalogue name.
ALIASES: dict[str, str] = {
    # asdf plugins
    "nodejs": "node",
    "golang": "go",
    "github-cli": "gh",
    "go-task": "task",
    "protobuf": "protoc",
    # nixpkgs attributes
    "python3": "python",
    "kubernetes-helm": "helm",
    "nodePackages.prettier": "prettier",
    "nodePackages.typescript": "typescript",
    "nodePackages.pnpm": "pnpm",
    "rg": "ripgrep",
}

#: Names that carry a version (nixpkgs): pattern → (catalogue name, how the
#: match's groups join into a version prefix).
VERSIONED: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"nodejs(?:-slim)?_(\d+)(?:_x)?"), "node", "{0}"),
    (re.compile(r"python(3)(\d{1,2})"), "python", "{0}.{1}"),
    (re.compile(r"go_(\d+)_(\d+)"), "go", "{0}.{1}"),
)

#: Node.js LTS lines by codename, as `lts/iron` and asdf's `lts-iron` name them.
LTS_LINES: dict[str, str] = {
    "argon": "4", "boron": "6", "carbon": "8", "dubnium": "10", "erbium": "12",
    "fermium": "14", "gallium": "16", "hydrogen": "18", "iron": "20", "jod": "22",
    "krypton": "24",
}
#: The newest LTS line this table knows: what `lts/*` becomes.
NEWEST_LTS = "krypton"


def alias(name: str) -> tuple[str, str | None]:
    """devshell's name for `name` and the version prefix the name itself
    carries (nodejs_20: "20"), or (name, None) when no rule knows it."""
    for pattern, target, version in VERSIONED:
        found = pattern.fullmatch(name)
        if found:
            return target, version.format(*found.groups())
    return ALIASES.get(name, name), None


def lts_major(text: str) -> tuple[str, bool] | None:
    """Node's major version for an LTS name (`lts`, `lts/*`, `lts/iron`,
    `lts-iron`), and whether that is an approximation (`lts/*` means "the
    newest LTS line", which moves; devshell pins the newest it knows). None
    when `text` is not an LTS name, or names a line this table lacks."""
    lowered = text.lower()
    if lowered in ("lts", "lts/*", "lts-*"):
        return LTS_LINES[NEWEST_LTS], True
    for prefix in ("lts/", "lts-"):
        if lowered.startswith(prefix) and lowered[len(prefix):] in LTS_LINES:
            return LTS_LINES[lowered[len(prefix):]], False
    return None
