"""`devshell remove TOOL…`: drop tools from devshell.toml and from the lock.

Comments stay; the edit is written only once the remaining spec resolves and
is realised on this machine. The tools that remain keep their pins.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "remove", help="remove tools from devshell.toml and the lock",
        description="Remove tools, by name (ruff) or by their key (pypi:NAME), and re-lock.",
    )
    p.add_argument("tools", nargs="+", metavar="TOOL")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from devshell import lock as lockfile
    from devshell import project
    from devshell.home import home
    from devshell.spec import edit as specedit
    from devshell.state import trust

    proj = project.find()
    spec_path = proj.spec.path
    where = home()
    with project.realising(where):
        with specedit.editing(proj.root, where):
            old_text = spec_path.read_text(encoding="utf-8")
            text = specedit.remove_tools(old_text, spec_path, args.tools)
            planned = specedit.plan(spec_path, text, lockfile.load(proj.lock_path), where)
            # What remains is realised here before anything is written.
            project.stage(planned.spec, where, planned.lock)
            with trust.preserving(where, proj.root):  # devshell's own edit keeps the trust
                specedit.write(proj.root, planned, old_text)
        project.realise_after_edit(proj.root)
    return 0
