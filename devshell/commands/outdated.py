"""`devshell outdated`: for each tool of the project, the version the lock
pins, the newest its constraint admits (what `lock --update` would move to)
and the newest the upstream has at all, as `mise outdated` and `npm outdated`
show them.

It asks the upstreams and writes nothing: not the lock, not the spec. A tool
whose upstream cannot be asked, or whose source lists no versions (a url tool
with no version index), says so in its row; the command still exits 0.

`--format json` prints `{"tools": [ROW…]}`, one row per tool in the spec's
order: `name`, `source`, `constraint`, `locked` (null: not in the lock),
`wanted` and `latest` (null: unknown), `note` (null, or why a column is
unknown).
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from devshell import say

if TYPE_CHECKING:
    from devshell.context import Context
    from devshell.spec import ToolSpec

__all__ = ["Row", "register", "row", "run"]

# Upstreams are asked for several tools at once; each answer is small.
_WORKERS = 8


def register(sub: Any) -> None:
    p = sub.add_parser(
        "outdated", help="show locked versions beside the newest the upstreams offer",
        description="For each tool: the locked version, the newest version its constraint "
        "admits (what `devshell lock --update` would take) and the newest the upstream has "
        "at all. Asks the upstreams; writes nothing.",
    )
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help='json: {"tools": [{name, source, constraint, locked, wanted, latest, note}]}')
    p.set_defaults(func=run)


@dataclass(frozen=True)
class Row:
    name: str
    source: str
    constraint: str
    locked: str | None
    wanted: str | None
    latest: str | None
    note: str | None = None


def row(tool: ToolSpec, locked: str | None, ctx: Context) -> Row:
    """One tool's row; an upstream that cannot answer is a note, not an error."""
    from devshell.commands.versions import listing, newest, wanted
    from devshell.errors import DevshellError

    def made(want: str | None, latest: str | None, note: str | None) -> Row:
        return Row(tool.name, tool.source, tool.constraint, locked, want, latest, note)

    try:
        found = listing(tool, ctx)
    except DevshellError as exc:
        # Sources word errors for a spec ("tools.NAME: …"): the row names the tool already.
        return made(None, None, exc.message.splitlines()[0].removeprefix(f"tools.{tool.name}: "))
    if found.unlisted is not None:
        return made(None, None, found.unlisted)
    versions = list(found.versions)
    if not versions:
        return made(None, None, f"{tool.package or tool.name} lists no versions devshell can use")
    want = found.admitted if found.newest_only else wanted(tool.constraint, versions)
    note = "the vendor names only its newest release" if found.newest_only else None
    if want is None and note is None:
        note = f"no listed version matches {tool.constraint!r}"
    return made(want, newest(versions), note)


def run(args: argparse.Namespace) -> int:
    from devshell import context, project
    from devshell import lock as lockfile
    from devshell.home import home

    proj = project.find()
    lock = lockfile.load(proj.lock_path)
    ctx = context.for_spec(proj.spec, home())

    def one(tool: ToolSpec) -> Row:
        pinned = lock.tool(tool.name) if lock is not None else None
        return row(tool, pinned.upstream_version if pinned is not None else None, ctx)

    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        rows = list(pool.map(one, proj.spec.tools))
    if args.format == "json":
        sys.stdout.write(json.dumps({"tools": [asdict(r) for r in rows]}, indent=2, sort_keys=True) + "\n")
        return 0
    if not rows:
        say.note(f"{proj.spec.path} has no tools")
        return 0
    _table(rows)
    return 0


def _table(rows: list[Row]) -> None:
    """Columns as npm outdated lays them out; a row whose lock is behind
    what its constraint admits says how to move it."""
    head = ("tool", "constraint", "locked", "wanted", "latest", "source")
    lines = [head] + [
        (r.name, r.constraint, r.locked or "-", r.wanted or "-", r.latest or "-", r.source) for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for line, r in zip(lines, [None, *rows], strict=True):
        text = "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        if r is not None:
            text += _remark(r)
        sys.stdout.write(text + "\n")


def _remark(r: Row) -> str:
    if r.note is not None:
        return f"  ({r.note})"
    if r.locked is None:
        return "  (not locked: `devshell lock`)"
    if r.wanted is not None and r.wanted != r.locked:
        return f"  (`devshell lock --update {r.name}`)"
    return ""
