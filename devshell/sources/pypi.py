"""The `pypi` source: tools from a Python package index.

A project with binary tool wheels (ruff, uv, cmake…) is one wheel per
platform, unpacked. Any other project with console scripts is an environment
on the spec's pinned python: its whole closure, resolved by pip per platform
(devshell.python.envlock).

Speaks the simple repository API: PEP 691 JSON, falling back to PEP 503
HTML, so mirrors and private indexes work too. The index's per-file sha256
becomes the lock's integrity; yanked files are skipped unless pinned exactly.
"""

from __future__ import annotations

import contextlib
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING
from urllib.parse import urldefrag, urljoin

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from devshell import catalog, config, integrity, libc, names, platforms, say
from devshell.errors import FetchError, SpecError
from devshell.home import Home
from devshell.lock import Artifact, LockedTool, Unavailable, program, tool_inputs_hash
from devshell.sources import SourceBase, wheels
from devshell.sources.common import artifact, pick_version
from devshell.spec import ToolSpec
from devshell.versions import choose, parse_constraint

if TYPE_CHECKING:
    from pathlib import Path

    from devshell.context import Context
    from devshell.net.cache import Document
    from devshell.sources.locate import Upstreams

__all__ = ["IndexFile", "PypiSource", "read_index"]

#: How much of a program is read for its Go build information: it sits in
#: the data segment, well inside any program's first 256 MB.
_PROGRAM_LIMIT = 256 << 20
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, "
    "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
)


@dataclass(frozen=True)
class IndexFile:
    filename: str
    url: str
    sha256: str | None
    yanked: bool
    size: int | None


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, str | None]] = []
        self._current: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._current = dict(attrs)
            self._current["#text"] = ""

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current["#text"] = (self._current["#text"] or "") + data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self.found.append(self._current)
            self._current = None


def _from_json(page: str, base: str) -> list[IndexFile]:
    """PEP 691 JSON; ValueError names the first field that is not what the
    standard says."""
    return [_json_file(f, i, base) for i, f in enumerate(_json_files(page))]


def _json_files(page: str) -> list[object]:
    """A PEP 691 page's `files`, each unchecked yet."""
    try:
        data = json.loads(page)
    except ValueError as exc:
        raise ValueError(f"the page is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError("the page is not a JSON object")
    listed = data.get("files")
    if not isinstance(listed, list):
        raise ValueError(f"files: {_kind(listed)}, not a list")
    return listed


def _json_file(f: object, i: int, base: str) -> IndexFile:
    """One entry of a PEP 691 page's `files`, checked."""
    where = f"files[{i}]"
    if not isinstance(f, dict):
        raise ValueError(f"{where}: {_kind(f)}, not an object")
    url, hashes, yanked, size = f.get("url"), f.get("hashes", {}), f.get("yanked", False), f.get("size")
    if not isinstance(url, str) or not url:
        raise ValueError(f"{where}.url: {_kind(url)}, not a URL")
    if not isinstance(hashes, dict):
        raise ValueError(f"{where}.hashes: {_kind(hashes)}, not an object")
    if not isinstance(yanked, bool | str):  # PEP 691: true/false or the reason
        raise ValueError(f"{where}.yanked: {_kind(yanked)}, not true, false or a reason")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise ValueError(f"{where}.size: {size!r} is not a number of bytes")
    sha = hashes.get("sha256")
    return IndexFile(
        filename=names.check_plain(f.get("filename"), f"{where}.filename"),
        url=urljoin(base, url),
        sha256=None if sha is None else _sha256(sha, f"{where}.hashes.sha256"),
        yanked=yanked is not False,
        size=size,
    )


def _from_html(page: str, base: str) -> list[IndexFile]:
    """PEP 503 HTML: one anchor per file, its sha256 in the URL's fragment."""
    parser = _Anchors()
    parser.feed(page)
    files = []
    for i, a in enumerate(parser.found):
        href = a.get("href")
        if not href:
            continue
        url, fragment = urldefrag(urljoin(base, href))
        algo, _, digest = fragment.partition("=")
        name = (a.get("#text") or url.rsplit("/", 1)[-1]).strip()
        files.append(IndexFile(
            filename=names.check_plain(name, f"anchor {i + 1} (filename)"),
            url=url,
            sha256=_sha256(digest, f"anchor {i + 1} (#sha256=)") if algo == "sha256" else None,
            yanked="data-yanked" in a,
            size=None,
        ))
    return files


def _kind(value: object) -> str:
    return "missing" if value is None else f"a {type(value).__name__}"


def _sha256(value: object, where: str) -> str:
    if not isinstance(value, str) or _HEX64.fullmatch(value) is None:
        shown = value if not isinstance(value, str) else value[:80]
        raise ValueError(f"{where}: {shown!r} is not a sha256 (64 hex digits)")
    return value.lower()


def read_index(project: str, home: Home | None = None) -> list[IndexFile]:
    """Every file the configured index lists for `project` (validators cached
    under `home`, when given)."""
    doc, page_url = _page(project, home)
    with _malformed(project, page_url):
        if "json" in doc.content_type:
            return _from_json(doc.text, page_url)
        return _from_html(doc.text, page_url)


def _page(project: str, home: Home | None) -> tuple[Document, str]:
    """`project`'s page on the configured index, and its URL."""
    from devshell.net import cache as httpcache

    base = config.pypi_index().url
    page_url = f"{base}{canonicalize_name(project)}/"
    try:
        return httpcache.get(page_url, headers={"Accept": _ACCEPT}, home=home), page_url
    except FetchError as exc:
        if exc.status == 404:
            raise SpecError(
                f"the Python package index has no project {project!r} ({page_url})",
                hint="check the name (`devshell search`), or the index in pip's config",
            ) from None
        raise


@contextlib.contextmanager
def _malformed(project: str, page_url: str) -> Iterator[None]:
    """A page that breaks the standard, as a FetchError naming it."""
    try:
        yield
    except ValueError as exc:
        raise FetchError(
            f"the Python package index sent a malformed page for {project} ({page_url}): {exc}",
            hint="the index (or a proxy in front of it) is broken; try again later, "
            "or point pip's index-url at a working mirror",
        ) from None


class _Listing:
    """One project's page, where install time looks up files by name.

    Realising needs a file's URL, not the project's whole history (ruff's
    page lists ~7,300 files in 3 MB of JSON: parsing it all takes ~13 MB
    while it lasts, checking every entry as the lock does ~0.1 s of a CPU).
    So a JSON page is searched for the entry that names the file, and only
    that entry is decoded and checked; a page where the search finds
    nothing (a file escaped in an unusual way) is parsed whole. An HTML
    page is read whole, as at lock time."""

    def __init__(self, project: str, home: Home | None) -> None:
        self.project = project
        doc, self.page_url = _page(project, home)
        self._json = "json" in doc.content_type
        self._text = doc.text
        self._html: dict[str, str] = {}
        if not self._json:
            with _malformed(project, self.page_url):
                self._html = {f.filename: f.url for f in _from_html(self._text, self.page_url)}
            self._text = ""

    def url(self, filename: str) -> str | None:
        if not self._json:
            return self._html.get(filename)
        with _malformed(self.project, self.page_url):
            entry = _json_entry(self._text, filename)
            if entry is None:
                entry = next((f for f in _json_files(self._text)
                              if isinstance(f, dict) and f.get("filename") == filename), None)
            if entry is None:
                return None
            url = entry.get("url")
            if not isinstance(url, str) or not url:
                raise ValueError(f"the entry for {filename}: url: {_kind(url)}, not a URL")
            return urljoin(self.page_url, url)


def _json_entry(page: str, filename: str) -> dict[str, object] | None:
    """The object of a PEP 691 page whose "filename" is `filename`, decoded
    alone: for each place the page names it, the innermost object around
    that place. An object cannot be decoded from inside a string (its quotes
    would be escaped there), so what is found is one of the page's objects;
    None when none is (the caller parses the page whole then)."""
    decoder = json.JSONDecoder()
    named = re.compile(r'"filename"\s*:\s*' + re.escape(json.dumps(filename)))
    for match in named.finditer(page):
        pos = match.start()
        while (pos := page.rfind("{", 0, pos)) != -1:
            try:
                found, end = decoder.raw_decode(page, pos)
            except ValueError:
                continue
            if not isinstance(found, dict):
                continue
            if end > match.start():  # the innermost object around the name
                if found.get("filename") == filename:
                    return found
                break
            if "filename" in found:  # a whole earlier entry: the name was in none
                break
    return None


class PypiSource(SourceBase):
    """Tools from the Python package index pip is configured for: binary tool
    wheels, or environments on the spec's python."""

    name = "pypi"
    direct = True
    schemes = ("pypi",)
    example = '"pypi:NAME" = "1.2"   a tool from the Python package index'

    def _files(self, ctx: Context, project: str) -> list[IndexFile]:
        return ctx.memo(("pypi-page", project), lambda: read_index(project, ctx.home))

    def locate(self, rest: str, upstreams: Upstreams, scheme: str = "pypi") -> str:
        """`pypi:<project>/<file>`: the file's URL as the index lists it now."""
        project, _, filename = rest.partition("/")
        listing = upstreams.memo(("pypi-listing", project), lambda: _Listing(project, upstreams.home))
        found = listing.url(filename)
        if found is None:
            raise FetchError(
                f"{filename} is not listed for {project} by the Python package index "
                f"({config.pypi_index().url})",
                hint="the index (or mirror) may have removed it; `devshell lock --update` picks another",
            )
        return found

    def _project(self, tool: ToolSpec) -> tuple[str, catalog.Entry | None]:
        entry = catalog.get(tool.name) if tool.package is None else None
        if entry is not None and entry.source == "pypi":
            return entry.package, entry
        return tool.package or tool.name, None

    def _wheels(self, ctx: Context, tool: ToolSpec, project: str) -> dict[str, list[IndexFile]]:
        """Binary tool wheels by version; yanked ones only when pinned exactly."""
        by_version: dict[str, list[IndexFile]] = {}
        for f in self._files(ctx, project):
            if not f.filename.endswith(".whl") or f.sha256 is None:
                continue
            tags = wheels.wheel_tags(f.filename)
            if tags is None or not wheels.is_tool_wheel(tags):
                continue
            version = str(parse_wheel_filename(f.filename)[1])
            try:
                names.check_version(version, f"the version of {f.filename}")
            except ValueError as exc:
                raise FetchError(f"the Python package index lists {project}: {exc}",
                                 hint="the index is broken; try another mirror") from None
            if f.yanked and not _pinned(tool.constraint, version):
                continue
            by_version.setdefault(version, []).append(f)
        return by_version

    def versions(self, tool: ToolSpec, ctx: Context) -> list[str]:
        from devshell.python import envlock

        project, _ = self._project(tool)
        found = {*self._wheels(ctx, tool, project), *envlock.versions(self._files(ctx, project))}
        return sorted(found, key=Version)

    def resolve(self, tool: ToolSpec, plats: tuple[str, ...], ctx: Context) -> LockedTool:
        from devshell.python import envlock

        home = ctx.home
        project, entry = self._project(tool)
        by_version = self._wheels(ctx, tool, project)
        envs = envlock.versions(self._files(ctx, project))
        # The release the constraint picks decides: binary tool wheels are
        # unpacked; any other release (mypy's cp311 wheels, black's pure one)
        # is an environment on the spec's python, though an old release of
        # the same project once shipped a platform wheel.
        picked = choose(parse_constraint(tool.constraint), [*by_version, *envs])
        if envs and picked not in by_version:
            return envlock.resolve(tool, project, plats, ctx, lambda p: self._files(ctx, p))
        floor = tool.glibc or libc.FLOOR
        # "latest" and prefixes: the newest release that runs on the glibc
        # floor wherever it has Linux wheels at all; a release pinned past the
        # floor is unavailable on Linux, and says why.
        on_floor = {v: fs for v, fs in by_version.items() if _runs_on_floor(fs, plats, floor)}
        candidates = on_floor if choose(parse_constraint(tool.constraint), list(on_floor)) else by_version
        version = pick_version(tool, candidates, where=f"{project} on the Python package index")
        chosen: dict[str, IndexFile] = {}
        for plat in plats:
            ranked = [
                (key, f.filename, f) for f in by_version[version]
                if (key := wheels.platform_key(wheels.wheel_tags(f.filename) or frozenset(), plat, floor))
                is not None
            ]
            if ranked:
                chosen[plat] = min(ranked, key=lambda r: (r[0], r[1]))[2]
        # No `bin` in the spec or the catalogue: the wheel itself says.
        bins = tool.bin or (entry.bin if entry and entry.bin else None)
        env = tool.env or (entry.env if entry else ())
        entries: dict[str, Artifact | Unavailable] = {}
        for plat in plats:
            f = chosen.get(plat)
            if f is None:
                entries[plat] = Unavailable(_no_wheel(project, version, plat, by_version[version], floor))
                continue
            data_dir = "-".join(f.filename.split("-", 2)[:2]) + ".data"
            programs = bins if bins is not None else self._scripts(home, tool, version, chosen)
            entries[plat] = artifact(
                tool.name, version, url=f"pypi:{project}/{f.filename}",
                integrity=integrity.from_hex("sha256", f.sha256 or ""), size=f.size,
                format="zip", strip=0,
                bin=tuple(p.replace("{data}", data_dir) for p in programs), env=env,
            )
        own = self._own_version(home, tool, version, chosen, entries) if entry and entry.own_version else None
        return LockedTool(
            name=tool.name, constraint=tool.constraint, source="pypi", version=own or version,
            inputs=tool_inputs_hash(tool.inputs()),
            platforms=tuple((p, entries[p]) for p in plats),
            package=project if project != tool.name else None,
            package_version=version if own and own != version else None,
        )

    def _own_version(self, home: Home, tool: ToolSpec, version: str, chosen: dict[str, IndexFile],
                     entries: dict[str, Artifact | Unavailable]) -> str | None:
        """The tool's own version, read from its first program's Go build
        information in one wheel (the host's if the spec covers it; the
        download is the one realising it takes). None, with a note, when
        the program does not say."""
        from devshell.sources import goversion

        plat = platforms.host() if platforms.host() in chosen else next(iter(chosen), None)
        art = entries.get(plat) if plat else None
        if plat is None or not isinstance(art, Artifact) or not art.bin:
            return None
        member = program(art.bin[0])[1]
        path = self._fetched(home, tool, version, plat, chosen[plat])
        try:
            with zipfile.ZipFile(path) as z, z.open(member) as f:
                data = f.read(_PROGRAM_LIMIT)
        except (KeyError, zipfile.BadZipFile, OSError, ValueError):
            data = b""
        own = goversion.read(data)
        try:
            # What the lock loader will ask of it, asked before it is written.
            own = names.check_version(own, "version") if own is not None else None
        except ValueError:
            own = None
        if own is None:
            say.note(f"tools.{tool.name}: {member} in its wheel does not say its own version; "
                     f"the lock names the package's, {version}")
            return None
        return own

    @staticmethod
    def _fetched(home: Home, tool: ToolSpec, version: str, plat: str, f: IndexFile) -> Path:
        from devshell.net.fetch import Download, fetch

        return fetch(home, Download(f.url, integrity.from_hex("sha256", f.sha256 or ""), f.size,
                                    f"{tool.name} {version} ({plat})"))

    def _scripts(self, home: Home, tool: ToolSpec, version: str, chosen: dict[str, IndexFile]) -> tuple[str, ...]:
        """No catalogue entry and no `bin`: read the programs from one wheel
        (the host's if the spec covers it), as `wheels.programs` finds them."""
        plat = platforms.host() if platforms.host() in chosen else next(iter(chosen))
        f = chosen[plat]
        path = self._fetched(home, tool, version, plat, f)
        try:
            with zipfile.ZipFile(path) as z:
                found = wheels.programs(z, f.filename)
                commands = wheels.console_scripts(z, f.filename)
        except (zipfile.BadZipFile, ValueError) as exc:
            raise FetchError(
                f"tools.{tool.name}: {f.filename} from the Python package index: {exc}",
                hint="the wheel is malformed or hostile; pick another version, or name the "
                'programs to expose yourself: bin = ["path/in/wheel"]',
            ) from None
        if not found:
            more = (f"; its console_scripts ({', '.join(commands)}) need Python, which devshell does not provide"
                    if commands else "")
            raise SpecError(
                f"tools.{tool.name}: {f.filename} ships no programs (nothing in its .data/scripts/ "
                f"or a data directory's bin/){more}",
                hint='name the programs to expose: bin = ["path/in/wheel"], or use a binary tool wheel',
            )
        return found


def _pinned(constraint: str, version: str) -> bool:
    """PEP 592: a yanked file counts only when the spec pins it exactly, as
    "1.0" or "==1.0"; never for a prefix ("1"), a range or "latest"."""
    try:
        parsed = parse_constraint(constraint)
    except ValueError:
        return False
    if parsed.kind == "version":
        wanted, same_form = parsed.text, True
    elif parsed.kind == "specifier":
        specs = list(SpecifierSet(parsed.text))
        if len(specs) != 1 or specs[0].operator not in ("==", "===") or specs[0].version.endswith(".*"):
            return False
        if specs[0].operator == "===":
            return specs[0].version == version
        wanted, same_form = specs[0].version, False
    else:
        return False
    try:
        want, have = Version(wanted), Version(version)
    except InvalidVersion:
        return False
    # A bare "1.0" is exact only for a release written as long (versions.choose).
    return want == have and (not same_form or len(want.release) == len(have.release))


def _runs_on_floor(files: list[IndexFile], plats: tuple[str, ...], floor: tuple[int, int]) -> bool:
    """Whether, on every Linux platform these wheels serve at all, one runs on `floor`."""
    for plat in plats:
        if not plat.endswith("-linux"):
            continue
        tags = [wheels.wheel_tags(f.filename) or frozenset() for f in files]
        if any(wheels.platform_key(t, plat) is not None for t in tags) and not any(
                wheels.platform_key(t, plat, floor) is not None for t in tags):
            return False
    return True


def _no_wheel(project: str, version: str, plat: str, files: list[IndexFile], floor: tuple[int, int]) -> str:
    past = [g for f in files if wheels.platform_key(wheels.wheel_tags(f.filename) or frozenset(), plat) is not None
            and (g := libc.needs(f.filename)) is not None and g > floor]
    if not past:
        return f"{project} {version} has no wheel for {plat}"
    return (f"{project} {version} has no wheel for {plat} on glibc {libc.shown(floor)} (its Linux wheels need "
            f"glibc {libc.shown(min(past))}; raise [shell] glibc to take them)")
