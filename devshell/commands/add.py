"""`devshell add TOOL[@VERSION]…`: add tools to devshell.toml and lock them.

Comments and layout survive the edit. Nothing is written unless the new spec
resolves and its lock is realised on this machine: a bad name, a version that
does not exist, a wheel without the program the lock names, a network error
or Ctrl-C leave devshell.toml and devshell.lock exactly as they were. Tools
not named keep their pins.
"""

from __future__ import annotations

import argparse
from typing import Any

from devshell import say

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "add", help="add tools to devshell.toml and lock them",
        description="Add tools (or change their version) and re-lock. TOOL is a catalogue "
        "name (ruff, ruff@0.6) or a package named directly: pypi:NAME@1.2, npm:NAME@3. "
        "Without @VERSION the newest version is locked and its major.minor written.",
    )
    p.add_argument("tools", nargs="+", metavar="TOOL[@VERSION]")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from devshell import lock as lockfile
    from devshell import project
    from devshell.home import home
    from devshell.spec import edit as specedit
    from devshell.state import trust

    requests = [specedit.parse_request(text) for text in args.tools]
    proj = project.find()
    spec_path = proj.spec.path
    where = home()
    with project.realising(where):
        with specedit.editing(proj.root, where):
            old_text = spec_path.read_text(encoding="utf-8")
            text = old_text
            requests = specedit.with_runtimes(requests, specedit.tool_keys(text, spec_path))
            for req in requests:
                text = specedit.set_tool(text, spec_path, req.key, req.constraint or "latest")
            unpinned = [r.key for r in requests if r.constraint is None]
            planned = specedit.plan(spec_path, text, lockfile.load(proj.lock_path), where, pin=unpinned)
            # Realised here before anything is written: all or nothing.
            project.stage(planned.spec, where, planned.lock)
            with trust.preserving(where, proj.root):  # devshell's own edit keeps the trust
                specedit.write(proj.root, planned, old_text)
        project.realise_after_edit(proj.root)
    if not planned.changes:
        say.note("nothing moved: devshell.lock already had that")
    return 0
