"""`devshell search TEXT`: what the catalogue has, what the package indexes
know of a package named TEXT (its newest version devshell can use), and the
Debian packages whose name or description mention TEXT.

Every word of TEXT must appear (in any case) in a name, a package or a
description, as `apt-cache search` matches. The Debian archive is the one the
deb source reads (the project's `[sources.deb]`, else this machine's), its
suite with what apt reads with it. Any upstream's failure is one line of the
answer, never an error: the others still answer.

`--format json` prints `{"query", "catalogue": [{name, source, description}],
"upstreams": [{source, title, url, asked, error, found: [{name, version,
description, add}]}]}`; human output shows the first 20 Debian matches.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devshell import catalog
    from devshell.config import Upstream
    from devshell.context import Context

__all__ = ["Answer", "Found", "register", "run"]

# Only something that could be a package name is sent to a package index.
_PACKAGE_NAME = re.compile(r"^@?[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9._-]+)?$")
_SHOWN = 20  # Debian matches shown to a person; --format json has them all


def register(sub: Any) -> None:
    p = sub.add_parser("search", help="find tools in the catalogue and on the upstreams")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: {query, catalogue, upstreams} (see `devshell search --help`)")
    p.set_defaults(func=run)


@dataclass(frozen=True)
class Found:
    name: str
    version: str
    description: str | None
    add: str  # what `devshell add` takes for it


@dataclass
class Answer:
    """One upstream's answer: where it is, and what it has (or why not)."""

    source: str
    title: str
    url: str | None = None
    asked: bool = True
    error: str | None = None
    found: list[Found] = field(default_factory=list)
    suite: str | None = None
    many: bool = False  # a search (Debian's), not one package's newest version


def run(args: argparse.Namespace) -> int:
    from devshell import catalog

    text: str = args.text
    words = text.lower().split()
    entries = [e for e in catalog.entries().values() if _matches(words, e.name, e.package, e.description)]
    entries.sort(key=lambda e: (e.name != text.lower(), e.name))
    ctx = _context()
    answers: list[Answer] = []
    for source, title, where in (("pypi", "Python package index", _pypi),
                                 ("npm", "npm registry", lambda: _npm(ctx))):
        if _PACKAGE_NAME.match(text):
            answers.append(_package(source, title, where, text, ctx))
        else:
            answers.append(Answer(source, title, asked=False, error=f"{text!r} is not a package name"))
    answers.append(_debian(words, text, ctx))
    if args.format == "json":
        doc = {"query": text,
               "catalogue": [{"name": e.name, "source": e.source, "description": e.description} for e in entries],
               "upstreams": [{k: v for k, v in asdict(a).items() if k != "many"} for a in answers]}
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        return 0
    _show(text, entries, answers)
    return 0


def _matches(words: list[str], *fields: str) -> bool:
    haystack = "\n".join(fields).lower()
    return all(w in haystack for w in words)


def _context() -> Context:
    """The project's context when there is a project here (its .npmrc and
    [sources] count), else this machine's; a spec that does not parse is
    searched past, not reported."""
    from devshell import context
    from devshell.errors import DevshellError
    from devshell.home import home
    from devshell.spec import SPEC_NAME, find_root, load

    root = find_root(Path.cwd())
    try:
        spec = load(root / SPEC_NAME) if root is not None else None
    except DevshellError:
        spec = None
    return context.for_spec(spec, home(), root)


def _pypi() -> Upstream:
    from devshell import config

    return config.pypi_index()


def _npm(ctx: Context) -> Upstream:
    from devshell import config

    return config.npm_registry(ctx.root)


def _package(source: str, title: str, where: Callable[[], Upstream], text: str, ctx: Context) -> Answer:
    """What one package index has of package `text`: its newest version."""
    from devshell import sources
    from devshell.config import redacted
    from devshell.errors import DevshellError
    from devshell.spec import ToolSpec
    from devshell.versions import choose, parse_constraint

    try:
        upstream = where()
    except DevshellError as exc:
        return Answer(source, title, asked=False, error=exc.message)
    answer = Answer(source, title, redacted(upstream.url))
    tool = ToolSpec(name=text.rsplit("/", 1)[-1], constraint="latest", source=source, package=text)
    try:
        listed = sources.get(source).versions(tool, ctx)
    except DevshellError as exc:
        # Sources word errors for a spec ("tools.NAME: …"); here there is none.
        answer.error = exc.message.splitlines()[0].removeprefix(f"tools.{tool.name}: ")
        return answer
    newest = choose(parse_constraint("latest"), listed)
    if newest is None:
        usable = "binary wheels" if source == "pypi" else "versions"
        answer.error = f"{text}: no {usable} devshell can use"
    else:
        answer.found.append(Found(text, newest, None, f"{source}:{text}@{newest}"))
    return answer


def _debian(words: list[str], text: str, ctx: Context) -> Answer:
    """The Debian packages whose name or description hold every word, each
    at its newest version in the suite (dpkg's order)."""
    from debian.debian_support import version_compare

    from devshell import config, platforms
    from devshell.debian.index import debian_arch
    from devshell.debian.suites import MAIN, SECURITY, Archive, read_suites
    from devshell.errors import DevshellError
    from devshell.sources import deb
    from devshell.sources.deb import DebSources

    found = ctx.settings("deb")
    settings = found if isinstance(found, DebSources) else DebSources()
    title = "Debian archive"
    try:
        main = config.debian_archive(settings.archive)
        security = config.debian_security_archive(settings.archive) if settings.security else None
    except DevshellError as exc:
        return Answer("deb", title, asked=False, error=exc.message)
    suite, components = deb.where(settings, main)
    answer = Answer("deb", title, config.redacted(main.url), suite=suite, many=True)
    if not words:
        answer.asked, answer.error = False, "nothing to search for"
        return answer
    try:
        suites = read_suites(
            ctx.home, Archive(MAIN, main.url, main.keyring),
            Archive(SECURITY, security.url, security.keyring) if security else None,
            suite, components, updates=settings.updates, with_security=settings.security,
            security_unset="set `upstreams.deb-security` in devshell's config")
        arch = debian_arch(platforms.host()) if platforms.split(platforms.host())[1] == "linux" else "amd64"
        best: dict[str, tuple[str, str]] = {}
        for member in suites.members:
            for body, _ in member.texts(arch):
                for name, version, description in _paragraphs(body, words):
                    have = best.get(name)
                    if have is None or version_compare(version, have[0]) > 0:
                        best[name] = (version, description)
    except DevshellError as exc:
        answer.error = exc.message.splitlines()[0]
        return answer
    needle = text.lower()
    order = sorted(best, key=lambda n: (n != needle, not n.startswith(needle), needle not in n, n))
    answer.found = [Found(n, best[n][0], best[n][1], f"deb:{n}") for n in order]
    return answer


def _paragraphs(body: str, words: list[str]) -> list[tuple[str, str, str]]:
    """(name, version, synopsis) of each paragraph of a Packages index whose
    name or description (synopsis and long text) hold every word."""
    found = []
    for para in body.split("\n\n"):
        lowered = para.lower()
        if not all(w in lowered for w in words):
            continue  # most paragraphs: no need to read their fields
        fields: dict[str, str] = {}
        key = ""
        for line in para.splitlines():
            if line[:1] in (" ", "\t"):
                if key == "description":
                    fields[key] += "\n" + line.strip()
            else:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                fields[key] = value.strip()
        name, version = fields.get("package"), fields.get("version")
        description = fields.get("description", "")
        if name and version and _matches(words, name, description):
            found.append((name, version, description.split("\n", 1)[0]))
    return found


def _show(text: str, entries: list[catalog.Entry], answers: list[Answer]) -> None:
    out = sys.stdout
    out.write("catalogue:\n")
    if not entries:
        out.write(f"  nothing matches {text!r}\n")
    width = max((len(e.name) for e in entries), default=0)
    for entry in entries:
        out.write(f"  {entry.name:<{width}}  {entry.source:<4}  {entry.description}\n")
    for answer in answers:
        if not answer.asked:
            out.write(f"{answer.title}: not asked: {answer.error}\n")
            continue
        suite = f", suite {answer.suite}" if answer.suite else ""
        out.write(f"{answer.title} ({answer.url}{suite}):\n")
        if answer.error is not None:
            out.write(f"  {answer.error}\n")
        elif not answer.many:
            hit = answer.found[0]
            out.write(f"  {hit.name} {hit.version}  (`devshell add {hit.add}`)\n")
        elif not answer.found:
            out.write(f"  nothing matches {text!r}\n")
        else:
            shown = answer.found[:_SHOWN]
            width = max(len(f.name) for f in shown)
            vwidth = max(len(f.version) for f in shown)
            for f in shown:
                out.write(f"  {f.name:<{width}}  {f.version:<{vwidth}}  {f.description}\n")
            if len(answer.found) > _SHOWN:
                out.write(f"  … and {len(answer.found) - _SHOWN} more (a longer TEXT narrows it; "
                          "--format json lists them all)\n")
