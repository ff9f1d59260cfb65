"""`devshell init`: create devshell.toml in the current directory.

From a template (`--template NAME`), from tools named on the command line
(`--tool ruff@0.6`, locked at once, all or nothing), from another tool's pins
(`--from .tool-versions`: asdf, mise, devbox, .nvmrc, .python-version; read
by devshell.imports and locked the same way), or, on a terminal with none of
these, by asking. It never prompts when stdin is not a terminal or CI is
set: with nothing given it writes a minimal spec that says how to add tools.

Templates are directories holding a devshell.toml (and usually its
devshell.lock), looked up in `shells/` beside the package and in
`devshell/templates/`; `DEVSHELL_TEMPLATES=dir[:dir…]` replaces that list.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devshell import say
from devshell.config import in_ci
from devshell.errors import SpecError, UsageError
from devshell.lock import LOCK_NAME
from devshell.spec import SPEC_NAME, parse

if TYPE_CHECKING:
    from devshell.spec.edit import Request

__all__ = ["TEMPLATES_ENV", "register", "run", "templates"]

TEMPLATES_ENV = "DEVSHELL_TEMPLATES"
CATALOGUE = "pick tools from the catalogue"
ENVRC = "use devshell\n"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "init", help="create devshell.toml here",
        description="Create devshell.toml in the current directory. On a terminal with no "
        "options, asks what to start from. Templates come from DEVSHELL_TEMPLATES "
        "(directories, separated by ':') when it is set.",
    )
    p.add_argument("--template", metavar="NAME", help="start from this template (spec and lock)")
    p.add_argument("--tool", action="append", default=[], metavar="NAME[@VERSION]",
                   help="pin this tool and lock it (repeatable): ruff@0.6, pypi:NAME@1.2, npm:NAME@3")
    p.add_argument("--from", dest="from_file", metavar="FILE",
                   help="import the tool pins of FILE and lock them: .tool-versions, mise.toml, "
                   "devbox.json, .nvmrc, .node-version or .python-version (--tool wins over it)")
    p.add_argument("--yes", "-y", action="store_true", help="take the defaults, ask nothing")
    p.add_argument("--direnv", action="store_true", help="also write an .envrc that says `use devshell`")
    p.set_defaults(func=run)


def template_dirs() -> list[Path]:
    listed = os.environ.get(TEMPLATES_ENV)
    if listed:
        return [Path(p) for p in listed.split(os.pathsep) if p]
    import devshell

    package = Path(devshell.__file__).parent
    return [package.parent / "shells", package / "templates"]


def templates() -> dict[str, Path]:
    """Template name → its directory; the first directory listed wins a name."""
    found: dict[str, Path] = {}
    for base in template_dirs():
        try:
            children = sorted(base.iterdir())
        except OSError:
            continue
        for child in children:
            if (child / SPEC_NAME).is_file():
                found.setdefault(child.name, child)
    return dict(sorted(found.items()))


def _refuse_existing(root: Path) -> None:
    for name in (SPEC_NAME, LOCK_NAME):
        if (root / name).exists():
            raise UsageError(
                f"{root / name} already exists; `devshell init` does not overwrite it",
                hint="edit it, or change tools with `devshell add` / `devshell remove`",
            )


def _can_ask() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty() and not in_ci()


def run(args: argparse.Namespace) -> int:
    from devshell.spec import edit as specedit

    root = Path.cwd()
    _refuse_existing(root)
    requests = [specedit.parse_request(text) for text in args.tool]
    if args.from_file is not None:
        requests = _imported(Path(args.from_file), requests)
    template: str | None = args.template
    if template is None and not requests and not args.yes:
        if _can_ask():
            answer = _ask()
            if answer is None:
                say.note(f"nothing written; {SPEC_NAME} not created")
                return 1
            template, requests = answer
        else:
            say.note("not asking (stdin is not a terminal, or CI is set): writing a spec "
                     "with no tools; pass --tool NAME@VERSION or --template NAME to start with some")
    source = _template(template) if template is not None else None
    spec_path = root / SPEC_NAME
    name = root.name or "shell"
    if source is None:
        text = specedit.minimal(name)
    else:
        text = specedit.set_shell_name((source / SPEC_NAME).read_text(encoding="utf-8"), spec_path, name)
        parse(text, source / SPEC_NAME)  # a broken template is named as such
    if requests:
        _init_locked(root, text, requests, source)
    else:
        _refuse_existing(root)  # again: a prompt may have taken a while
        _init_unlocked(root, text, source)
    from devshell.home import home
    from devshell.state import trust

    trust.trust(home(), root)  # the user wrote it with devshell: theirs to use
    if args.direnv:
        _envrc(root)
    say.note("next: `devshell add NAME[@VERSION]` to add tools, `devshell enter` to start the shell")
    return 0


def _imported(path: Path, given: list[Request]) -> list[Request]:
    """The pins of `path` that devshell has, then the tools of --tool (which
    replace an imported pin of the same tool); every pin left out is noted."""
    from devshell import imports

    found = imports.read(path)
    named = {r.name for r in given}
    for request, line in zip(found.requests, found.done, strict=True):
        replaced = f"; --tool {request.name} replaces it" if request.name in named else ""
        say.note(f"importing {line}{replaced}")
    for line in found.notes:
        say.note(f"note: {line}")
    requests = [r for r in found.requests if r.name not in named] + given
    if not requests:
        why = "no pin in it has a devshell equivalent" if found.notes else "it pins no tools"
        raise SpecError(f"{path}: {why}; nothing written",
                        hint="`devshell search NAME` shows what the upstreams have; "
                        "name tools with --tool NAME@VERSION")
    return requests


def _template(name: str) -> Path:
    found = templates()
    if name not in found:
        where = ", ".join(str(d) for d in template_dirs())
        raise UsageError(
            f"no template named {name!r} (looked in {where})",
            hint="templates: " + (", ".join(found) or f"none; set {TEMPLATES_ENV} to a directory of them"),
        )
    return found[name]


def _init_locked(root: Path, text: str, requests: list[Request], source: Path | None) -> None:
    """Pin and lock the requested tools; nothing is written unless it all resolves."""
    from devshell import lock as lockfile
    from devshell import project
    from devshell.home import home
    from devshell.spec import edit as specedit

    spec_path = root / SPEC_NAME
    requests = specedit.with_runtimes(requests, specedit.tool_keys(text, spec_path))
    for req in requests:
        text = specedit.set_tool(text, spec_path, req.key, req.constraint or "latest")
    unpinned = [r.key for r in requests if r.constraint is None]
    previous = lockfile.load(source / lockfile.LOCK_NAME) if source is not None else None
    where = home()
    with project.realising(where), specedit.editing(root, where):
        planned = specedit.plan(spec_path, text, previous, where, pin=unpinned)
        # Realised here before anything is written: all or nothing, as `add`.
        project.stage(planned.spec, where, planned.lock)
        _refuse_existing(root)
        specedit.write(root, planned, None)
    say.note(f"wrote {spec_path} and {lockfile.LOCK_NAME}")


def _init_unlocked(root: Path, text: str, source: Path | None) -> None:
    """The spec alone, or a template's spec and its lock as they are."""
    from devshell import atomic

    spec_path = root / SPEC_NAME
    atomic.write_text(spec_path, text)
    lock = source / LOCK_NAME if source is not None else None
    if lock is None or not lock.is_file():
        say.note(f"wrote {spec_path}")
        return
    try:
        atomic.write_bytes(root / LOCK_NAME, lock.read_bytes())
    except BaseException:
        spec_path.unlink()
        raise
    say.note(f"wrote {spec_path} and {LOCK_NAME}")


def _envrc(root: Path) -> None:
    from devshell import atomic

    _ignore_direnv(root)
    path = root / ".envrc"
    if path.exists():
        say.note(f"kept the existing {path}; add `use devshell` to it if it lacks it")
        return
    atomic.write_text(path, ENVRC)
    say.note(f"wrote {path}; run `direnv allow` to use it")


def _ignore_direnv(root: Path) -> None:
    """direnv's cache directory (.direnv/) stays out of git: one line added
    to .gitignore unless a line already ignores it."""
    from devshell import atomic

    path = root / ".gitignore"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if any(line.strip() in (".direnv", ".direnv/", "/.direnv", "/.direnv/") for line in text.splitlines()):
        return
    atomic.write_text(path, text + ("\n" if text and not text.endswith("\n") else "") + ".direnv/\n")


def _ask() -> tuple[str | None, list[Request]] | None:
    """Ask where to start; None when the person declines."""
    import questionary

    from devshell import catalog
    from devshell.spec.edit import Request

    names = list(templates())
    start = CATALOGUE
    if names:
        start = questionary.select("Start from", choices=[*names, CATALOGUE]).unsafe_ask()
    if start != CATALOGUE:
        confirmed = questionary.confirm(f"Create {SPEC_NAME} from the template {start!r}?",
                                        default=True).unsafe_ask()
        return (start, []) if confirmed else None
    choices = [questionary.Choice(e.name, value=e.name, description=e.description)
               for e in catalog.entries().values()]
    picked: list[str] = questionary.checkbox(
        "Tools (space picks, enter when done)", choices=choices).unsafe_ask()
    what = f"with {', '.join(picked)} (newest versions) and lock it" if picked else "with no tools yet"
    if not questionary.confirm(f"Write {SPEC_NAME} {what}?", default=True).unsafe_ask():
        return None
    return None, [Request(name, None) for name in picked]

