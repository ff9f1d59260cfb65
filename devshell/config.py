"""Where each upstream lives, read from the machine's own configuration.

No upstream host is written in devshell. The Python package index comes from
devshell's config, `PIP_INDEX_URL`, pip's config files, or pip's own default;
the npm registry from devshell's config, `npm_config_registry`, `.npmrc` files,
or `npm config get registry`; the Debian archive from devshell's config, the
project's `[sources.deb] archive`, or apt's sources, and its security archive
likewise. Each answer says where it came from, for `devshell doctor`.
"""

from __future__ import annotations

import configparser
import functools
import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from devshell.errors import DevshellError

__all__ = [
    "CacheSetting",
    "Upstream",
    "cache_setting",
    "config_home",
    "debian_archive",
    "debian_security_archive",
    "devshell_config_path",
    "in_ci",
    "npm_registry",
    "pypi_index",
    "redacted",
    "rewrite",
]


@dataclass(frozen=True)
class Upstream:
    url: str
    origin: str  # where the value was found, e.g. "PIP_INDEX_URL" or a file path
    keyring: str | None = None  # deb: the keyring file (or armored key) that signs the archive
    # deb, when read from apt's sources: the entry's release suite and its
    # components, which is what apt itself reads (Ubuntu's "noble" with
    # universe) when the spec names neither.
    suite: str | None = None
    components: tuple[str, ...] = ()


def config_home() -> Path:
    """$XDG_CONFIG_HOME, else ~/.config: where devshell's, pip's and direnv's
    user configuration lives."""
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def in_ci() -> bool:
    """Whether CI is set to something true: never prompt, never re-lock."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def redacted(url: str) -> str:
    """`url` fit to show: a password becomes `***`, and so does a user name
    with no password (registries take tokens in either place)."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    user = f"{parts.username}:***@" if parts.password is not None and parts.username else "***@"
    host = parts.hostname or ""
    netloc = user + (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def devshell_config_path() -> Path:
    return config_home() / "devshell" / "config.toml"


def _own(key: str, env_name: str) -> Upstream | None:
    if os.environ.get(env_name):
        return Upstream(os.environ[env_name], env_name)
    path = devshell_config_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DevshellError(f"{path}: cannot be read: {exc}") from None
    value = data.get("upstreams", {}).get(key)
    if isinstance(value, str) and value:
        return Upstream(value, f"{path} (upstreams.{key})")
    return None


def _own_table(key: str) -> dict[str, str]:
    path = devshell_config_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DevshellError(f"{path}: cannot be read: {exc}") from None
    table = data.get(key, {})
    return {str(k): str(v) for k, v in table.items()} if isinstance(table, dict) else {}


@dataclass(frozen=True)
class CacheSetting:
    url: str  # as written: `oci://REGISTRY/REPOSITORY` (devshell.oci.cache checks it)
    insecure: bool  # plain HTTP allowed for a registry that is not loopback
    origin: str


def cache_setting() -> CacheSetting | None:
    """The team binary cache: DEVSHELL_CACHE (`off` turns a configured one
    off), else `[cache] url` in devshell's config. DEVSHELL_CACHE_INSECURE=1
    or `[cache] insecure = true` allows plain HTTP to it."""
    path = devshell_config_path()
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("cache", {})
    except FileNotFoundError:
        table = {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DevshellError(f"{path}: cannot be read: {exc}") from None
    table = table if isinstance(table, dict) else {}
    insecure = os.environ.get("DEVSHELL_CACHE_INSECURE", "").strip().lower() in ("1", "true", "yes", "on")
    insecure = insecure or table.get("insecure") is True
    if "DEVSHELL_CACHE" in os.environ:
        url = os.environ["DEVSHELL_CACHE"].strip()
        return None if url in ("", "off") else CacheSetting(url, insecure, "DEVSHELL_CACHE")
    written = table.get("url")
    if isinstance(written, str) and written:
        return CacheSetting(written, insecure, f"{path} (cache.url)")
    return None


def rewrite(url: str) -> str:
    """Apply `[mirrors]` from devshell's config: the longest matching prefix
    is replaced (`"https://vendor.example/" = "https://mirror.corp/vendor/"`)."""
    mirrors = _own_table("mirrors")
    best = max((p for p in mirrors if url.startswith(p)), key=len, default=None)
    return url if best is None else mirrors[best] + url[len(best):]


def _pip_config_files() -> list[Path]:
    """pip's config files, lowest precedence first (global, user, site)."""
    if os.environ.get("PIP_CONFIG_FILE"):
        return [Path(os.environ["PIP_CONFIG_FILE"])]
    dirs = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
    files = [Path(d) / "pip" / "pip.conf" for d in reversed(dirs) if d]
    files.append(Path("/etc/pip.conf"))
    files.append(Path.home() / ".pip" / "pip.conf")
    files.append(config_home() / "pip" / "pip.conf")
    if os.environ.get("VIRTUAL_ENV"):
        files.append(Path(os.environ["VIRTUAL_ENV"]) / "pip.conf")
    return files


def pypi_index() -> Upstream:
    """The simple-API base URL (ending in /) of the Python package index."""
    found = _own("pypi", "DEVSHELL_PYPI_INDEX_URL")
    if found is None and os.environ.get("PIP_INDEX_URL"):
        found = Upstream(os.environ["PIP_INDEX_URL"], "PIP_INDEX_URL")
    if found is None:
        for path in reversed(_pip_config_files()):
            parser = configparser.RawConfigParser()
            try:
                parser.read(path, encoding="utf-8")
            except (OSError, configparser.Error):
                continue
            for section in ("install", "global"):
                for key in ("index-url", "index_url"):
                    if parser.has_option(section, key):
                        found = Upstream(parser.get(section, key).strip(), f"{path} ({section}.{key})")
                        break
                if found:
                    break
            if found:
                break
    if found is None:
        found = _pip_default()
    return Upstream(found.url.rstrip("/") + "/", found.origin)


def _pip_default() -> Upstream:
    try:
        from pip._internal.models.index import PyPI
    except ImportError:
        raise DevshellError(
            "cannot tell where the Python package index is: no PIP_INDEX_URL, no index-url in pip's config, and pip is not installed",
            hint="set PIP_INDEX_URL, or `upstreams.pypi` in " + str(devshell_config_path()),
        ) from None
    return Upstream(str(PyPI.simple_url), "pip's built-in default")


def _npmrc_registry(path: Path) -> str | None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip() == "registry":
            return value.strip().strip('"')
    return None


def npm_registry(project_root: Path | None = None) -> Upstream:
    """The npm registry's base URL (ending in /)."""
    found = _own("npm", "DEVSHELL_NPM_REGISTRY")
    for name in ("npm_config_registry", "NPM_CONFIG_REGISTRY"):
        if found is None and os.environ.get(name):
            found = Upstream(os.environ[name], name)
    if found is None:
        candidates = []
        if project_root is not None:
            candidates.append(project_root / ".npmrc")
        candidates.append(Path(os.environ.get("NPM_CONFIG_USERCONFIG") or Path.home() / ".npmrc"))
        if os.environ.get("NPM_CONFIG_GLOBALCONFIG"):
            candidates.append(Path(os.environ["NPM_CONFIG_GLOBALCONFIG"]))
        for path in candidates:
            url = _npmrc_registry(path)
            if url:
                found = Upstream(url, str(path))
                break
    if found is None:
        found = _npm_default()
    return Upstream(found.url.rstrip("/") + "/", found.origin)


@functools.cache
def _npm_default() -> Upstream:
    """Asked once per process: `npm config get registry` costs ~0.2 s."""
    npm = shutil.which("npm")
    if npm:
        try:
            out = subprocess.run([npm, "config", "get", "registry"], capture_output=True,
                                 text=True, timeout=30, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out.startswith(("http://", "https://")):
            return Upstream(out, "`npm config get registry`")
    raise DevshellError(
        "cannot tell where the npm registry is: no npm_config_registry, no registry in .npmrc, and no npm to ask",
        hint="set npm_config_registry, or `upstreams.npm` in " + str(devshell_config_path()),
    )


# Suites (and archive paths) that only carry updates on top of a release: the
# packages a lock pins come from the release itself.
_UPDATES = ("-security", "-updates", "-backports", "-proposed-updates")


def debian_archive(project_archive: str | None = None) -> Upstream:
    """The Debian archive's base URL (ending in /), and the keyring apt trusts
    for it: DEVSHELL_DEB_ARCHIVE or `upstreams.deb`, else the project's
    `[sources.deb] archive`, else the first release entry of apt's sources.
    DEVSHELL_DEB_KEYRING names the keyring explicitly."""
    found = _own("deb", "DEVSHELL_DEB_ARCHIVE")
    if found is None and project_archive:
        found = Upstream(project_archive, "devshell.toml ([sources.deb] archive)")
    if found is None:
        found = _apt_archive()
    if found is None:
        raise DevshellError(
            "cannot tell where the Debian archive is: no DEVSHELL_DEB_ARCHIVE, no upstreams.deb "
            "in devshell's config, and no `deb` entry in apt's sources",
            hint="set DEVSHELL_DEB_ARCHIVE to the archive's base URL (the directory holding dists/ "
            "and pool/), or `upstreams.deb` in " + str(devshell_config_path()),
        )
    keyring = os.environ.get("DEVSHELL_DEB_KEYRING") or found.keyring
    return Upstream(found.url.rstrip("/") + "/", found.origin, keyring, found.suite, found.components)


def debian_security_archive(project_archive: str | None = None) -> Upstream | None:
    """The Debian security archive's base URL (ending in /), which apt's
    sources name apart from the archive (`Suites: bookworm-security`):
    DEVSHELL_DEB_SECURITY_ARCHIVE or `upstreams.deb-security`, else the first
    `-security` entry of apt's sources, but only when the archive itself comes
    from apt's sources too (a mirror or a snapshot named by hand is not mixed
    with the host's security archive). None when there is none to read."""
    found = _own("deb-security", "DEVSHELL_DEB_SECURITY_ARCHIVE")
    if found is None and not project_archive and _own("deb", "DEVSHELL_DEB_ARCHIVE") is None:
        found = _apt_archive(security=True)
    if found is None:
        return None
    keyring = os.environ.get("DEVSHELL_DEB_KEYRING") or found.keyring
    return Upstream(found.url.rstrip("/") + "/", found.origin, keyring)


def _apt_source_files() -> list[Path]:
    """apt's order: sources.list, then sources.list.d/ by name (.list and .sources)."""
    listed = Path(os.environ.get("DEVSHELL_APT_SOURCES_LIST") or "/etc/apt/sources.list")
    parts = Path(os.environ.get("DEVSHELL_APT_SOURCES_DIR") or "/etc/apt/sources.list.d")
    try:
        more = sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    except OSError:
        more = []
    return [listed, *more]


def _apt_archive(*, security: bool = False) -> Upstream | None:
    """The first enabled `deb` entry with a release suite on an http(s) URI
    (with `security`, the first with a `<release>-security` suite). For the
    release, the components are those of every entry for that URI and suite,
    as apt reads them (sources.list often has one line per component set)."""
    entries = [(path, entry) for path in _apt_source_files() for entry in _apt_entries(path)
               if entry.uri.startswith(("http://", "https://"))]
    for path, entry in entries:
        if security and any(s.endswith("-security") for s in entry.suites):
            return Upstream(entry.uri, str(path), entry.signed_by)
        release = [s for s in entry.suites if not s.endswith(_UPDATES)]
        if not security and release and "security" not in entry.uri:
            same = [e for _, e in entries if e.uri == entry.uri and release[0] in e.suites]
            components = tuple(dict.fromkeys(c for e in same for c in e.components))
            return Upstream(entry.uri, str(path), entry.signed_by, release[0], components)
    return None


def _apt_entries(path: Path) -> list[_AptEntry]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    return _deb822_entries(text) if path.suffix == ".sources" else _one_line_entries(text)


@dataclass(frozen=True)
class _AptEntry:
    uri: str
    suites: list[str]
    components: tuple[str, ...]
    signed_by: str | None


def _one_line_entries(text: str) -> list[_AptEntry]:
    """`deb [signed-by=/k.gpg arch=amd64] URI SUITE COMPONENT…` lines."""
    entries = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb ") and not line.startswith("deb\t"):
            continue
        rest = line[3:].strip()
        options: dict[str, str] = {}
        if rest.startswith("["):
            inside, _, rest = rest[1:].partition("]")
            for opt in inside.split():
                key, _, value = opt.partition("=")
                options[key.rstrip("+-").lower()] = value
        words = rest.split()
        if len(words) >= 2:
            entries.append(_AptEntry(words[0], words[1:2], tuple(words[2:]), options.get("signed-by") or None))
    return entries


def _deb822_entries(text: str) -> list[_AptEntry]:
    """deb822 stanzas (`Types: deb`, `URIs:`, `Suites:`, `Signed-By:`); an
    embedded armored key is returned as its text."""
    from debian import deb822

    entries = []
    for para in deb822.Deb822.iter_paragraphs(text.splitlines(keepends=True)):
        fields = {k.lower(): v for k, v in para.items()}
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
            continue
        uris = fields.get("uris", "").split()
        if uris:
            entries.append(_AptEntry(uris[0], fields.get("suites", "").split(),
                                     tuple(fields.get("components", "").split()),
                                     _signed_by(fields.get("signed-by", ""))))
    return entries


def _signed_by(value: str) -> str | None:
    """A keyring path, an embedded key (deb822 writes its blank lines as "."),
    or None for fingerprints alone (apt matches them against its own keys)."""
    if "BEGIN PGP PUBLIC KEY BLOCK" in value:
        lines = [line.strip() for line in value.strip().splitlines()]
        return "\n".join("" if line == "." else line for line in lines) + "\n"
    paths = [w for w in value.split() if w.startswith("/")]
    return paths[0] if paths else None
