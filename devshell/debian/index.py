"""A Debian archive's indexes, read at lock time: the suite's Release (its
signature checked with gpgv or sqv when the host has them and a keyring), and
each component's Packages index, checked against the Release's SHA256.

Index files are cached with their HTTP validators (devshell.net.cache), so a
re-lock asks "changed?" and downloads nothing when the archive did not move.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devshell.errors import DevshellError, FetchError, IntegrityError, SpecError
from devshell.home import Home
from devshell.net import http

__all__ = [
    "DEFAULT_KEYRING",
    "STABLE",
    "HttpCache",
    "Release",
    "debian_arch",
    "default_suite",
    "index_url",
    "packages_index",
    "read_release",
    "triplet",
]

#: Where Debian (and its derivatives' debian-archive-keyring package) keep the
#: archive's signing keys; used when apt's sources name no Signed-By.
DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
#: Debian's current stable release, by codename: the suite on a host that is
#: not Debian. A codename, not "stable", so that a lock re-resolved after the
#: next release still reads the suite it was made from.
STABLE = "trixie"

_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
_TRIPLET = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
_OPENERS: dict[str, Callable[[io.BytesIO], io.BufferedIOBase]] = {
    ".xz": lzma.LZMAFile, ".gz": lambda f: gzip.GzipFile(fileobj=f), ".bz2": bz2.BZ2File,
}


def debian_arch(platform: str) -> str:
    """`x86_64-linux` → `amd64`: Debian's name for the platform's architecture."""
    arch = platform.partition("-")[0]
    return _ARCH.get(arch, arch)


def triplet(arch: str) -> str:
    """Debian's multiarch directory for an architecture (`amd64` → x86_64-linux-gnu)."""
    return _TRIPLET.get(arch, f"{arch}-linux-gnu")


def default_suite(os_release: str = "/etc/os-release") -> str:
    """The host's Debian release codename, or STABLE on anything else."""
    fields: dict[str, str] = {}
    try:
        with open(os_release, encoding="utf-8") as f:
            for line in f:
                key, sep, value = line.strip().partition("=")
                if sep:
                    fields[key] = value.strip().strip("\"'")
    except OSError:
        return STABLE
    if fields.get("ID") == "debian" and fields.get("VERSION_CODENAME"):
        return fields["VERSION_CODENAME"]
    return STABLE


class HttpCache:
    """Index files by URL, through devshell.net.cache (revalidated with their
    ETag / Last-Modified, so an unchanged file is answered 304, not sent
    again); each URL is asked once per run (one cache per opened suite).
    Copies, and unpacked Packages indexes, live under `home`'s cache."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self._seen: dict[str, bytes | None] = {}

    def get(self, url: str, sha256: str | None = None) -> bytes | None:
        """The body at `url` (None when the server has none: 404/410). With
        `sha256`, a body of another hash is an IntegrityError."""
        if url not in self._seen:
            self._seen[url] = self._fetch(url, sha256, self.home)
        body = self._seen[url]
        if body is not None and sha256 is not None and hashlib.sha256(body).hexdigest() != sha256:
            raise IntegrityError(
                f"hash mismatch for {url}: the archive's Release names sha256 {sha256}, "
                f"the file has {hashlib.sha256(body).hexdigest()}",
                hint="the archive (or a mirror or proxy) serves an index that its signed Release "
                "does not vouch for; try again later, or another mirror",
            )
        return body

    @staticmethod
    def _fetch(url: str, sha256: str | None, home: Home) -> bytes | None:
        from devshell.net import cache as httpcache

        headers = {"Accept-Encoding": "identity"}
        try:
            doc = httpcache.get(url, headers, home=home)
            if doc.fresh or sha256 is None or hashlib.sha256(doc.body).hexdigest() == sha256:
                return doc.body
            # "Not modified", yet not what the Release names: ask again, plainly.
            return http.get(url, headers=headers).content
        except FetchError as exc:
            if exc.status in (404, 410):
                return None
            raise


@dataclass(frozen=True)
class Release:
    """A suite's Release file: what it holds, and whether its signature was checked."""

    suite: str
    files: dict[str, str]  # path under dists/<suite>/ → sha256
    components: tuple[str, ...]
    architectures: tuple[str, ...]
    verified: bool
    unverified_because: str = ""  # why the signature could not be checked


def read_release(cache: HttpCache, archive: str, suite: str, keyring: str | None) -> Release:
    """Fetch dists/<suite>/InRelease (or Release + Release.gpg) and check its
    signature when a verifier and the keyring are at hand; a bad signature
    is an IntegrityError, no means to check is `verified=False`."""
    from debian import deb822

    base = f"{archive}dists/{suite}/"
    verifier = shutil.which("gpgv") or shutil.which("sqv")
    with tempfile.TemporaryDirectory(prefix="devshell-release-") as tmp:
        keyfile = _keyring_file(keyring, Path(tmp))
        check = verifier is not None and keyfile is not None
        because = "" if check else (
            "neither gpgv nor sqv is installed" if verifier is None else f"there is no keyring at {DEFAULT_KEYRING}"
        )
        signed = cache.get(base + "InRelease")
        if signed is not None:
            text = _verify_inline(verifier, keyfile, signed, Path(tmp), base) if check else signed
        else:
            plain = cache.get(base + "Release")
            if plain is None:
                raise SpecError(
                    f"the Debian archive has no suite {suite!r} (no {base}InRelease or Release)",
                    hint='name an existing suite in devshell.toml: [sources.deb] suite = "…" '
                    "(a codename or stable/testing/unstable)",
                )
            if check:
                signature = cache.get(base + "Release.gpg")
                if signature is None:
                    raise IntegrityError(f"{base}Release is not signed (no Release.gpg)",
                                         hint="devshell will not trust an unsigned suite while a keyring is set up")
                _verify_detached(verifier, keyfile, plain, signature, Path(tmp), base)
            text = plain
    where = base + ("InRelease" if signed is not None else "Release")
    release = deb822.Release(text)
    files = _release_sums(release, where)
    if not files:
        raise FetchError(f"{base}: the Release file lists no SHA256 checksums",
                         hint="devshell needs an archive whose Release carries SHA256 sums")
    return Release(
        suite=suite, files=files,
        components=tuple(release.get("Components", "").split()),
        architectures=tuple(release.get("Architectures", "").split()),
        verified=check, unverified_because=because,
    )


def _release_sums(release: Any, where: str) -> dict[str, str]:
    """The Release's SHA256 field as index path → hex: every line three
    words, a 64-hex digest, a size and a path (python-debian passes a
    malformed line through with keys missing)."""
    try:
        entries = list(release.get("SHA256", []))
    except ValueError:
        entries = [{}]
    files = {}
    for found in entries:
        entry = found if isinstance(found, Mapping) else {"sha256": str(found)}
        name, digest, size = entry.get("name"), entry.get("sha256", ""), entry.get("size", "")
        if not name or not re.fullmatch(r"[0-9a-fA-F]{64}", digest) or not size.isdigit():
            shown = " ".join(str(entry.get(k, "")) for k in ("sha256", "size", "name")).strip()
            raise FetchError(f"{where}: SHA256 holds a line that is not `<sha256> <size> <path>`: {shown[:120]!r}",
                             hint="the archive (or a mirror or proxy) serves a malformed Release; "
                             "check [sources.deb] archive or DEVSHELL_DEB_ARCHIVE")
        files[name] = digest.lower()
    return files


def _keyring_file(keyring: str | None, tmp: Path) -> Path | None:
    """A binary keyring gpgv can read, or None when the host has none.
    An embedded key or a `.asc` file is de-armored first."""
    if keyring is not None and "BEGIN PGP PUBLIC KEY BLOCK" in keyring:
        return _dearmored(keyring, tmp)
    path = Path(keyring or DEFAULT_KEYRING)
    if not path.is_file():
        if keyring is None:
            return None
        raise DevshellError(f"the keyring {path} named for the Debian archive does not exist",
                            hint="fix Signed-By in apt's sources, or DEVSHELL_DEB_KEYRING")
    if path.suffix == ".asc":
        return _dearmored(path.read_text(encoding="ascii", errors="replace"), tmp)
    return path


def _dearmored(text: str, tmp: Path) -> Path:
    """ASCII armor → binary OpenPGP packets (every block in `text`)."""
    import base64

    out = bytearray()
    for block in text.split("-----BEGIN PGP PUBLIC KEY BLOCK-----")[1:]:
        lines = [line.strip() for line in block.split("-----END PGP PUBLIC KEY BLOCK-----")[0].splitlines()]
        # Armor headers ("Comment: …") end at the first blank line; "=" starts the checksum.
        start = lines.index("", 1) + 1 if "" in lines[1:] else 1
        out += base64.b64decode("".join(line for line in lines[start:] if line and not line.startswith("=")))
    path = tmp / "keyring.gpg"
    path.write_bytes(bytes(out))
    return path


def _run_verifier(verifier: str, args: list[str], where: str) -> None:
    proc = subprocess.run([verifier, *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, check=False)
    if proc.returncode != 0:
        said = " ".join(proc.stderr.split())[-300:]
        raise IntegrityError(
            f"the signature of {where} does not verify against the archive keyring "
            f"({Path(verifier).name}: {said or f'exit {proc.returncode}'})",
            hint="the archive (or a mirror or proxy) serves a Release that its keys did not sign; "
            "if the archive uses other keys, set Signed-By in apt's sources or DEVSHELL_DEB_KEYRING",
        )


def _verify_inline(verifier: str | None, keyfile: Path | None, signed: bytes, tmp: Path, base: str) -> bytes:
    """The Release text as the signature covers it (never the unsigned rest)."""
    assert verifier is not None and keyfile is not None
    src, out = tmp / "InRelease", tmp / "Release.verified"
    src.write_bytes(signed)
    if Path(verifier).name == "sqv":
        args = ["--keyring", str(keyfile), "--cleartext", "--output", str(out), str(src)]
    else:
        args = ["--keyring", str(keyfile), "--output", str(out), str(src)]
    _run_verifier(verifier, args, base + "InRelease")
    return out.read_bytes()


def _verify_detached(verifier: str | None, keyfile: Path | None, data: bytes, signature: bytes,
                     tmp: Path, base: str) -> None:
    assert verifier is not None and keyfile is not None
    src, sig = tmp / "Release", tmp / "Release.gpg"
    src.write_bytes(data)
    sig.write_bytes(signature)
    _run_verifier(verifier, ["--keyring", str(keyfile), str(sig), str(src)], base + "Release")


def index_url(archive: str, release: Release, component: str, arch: str) -> str | None:
    """Where <component>/binary-<arch>/Packages is read from (xz, gz, bz2 or
    plain: whichever the Release lists first); None when the suite has none."""
    for ext in (".xz", ".gz", ".bz2", ""):
        name = f"{component}/binary-{arch}/Packages{ext}"
        if name in release.files:
            return f"{archive}dists/{release.suite}/{name}"
    return None


def _unpacked(body: bytes, ext: str, url: str) -> bytes:
    """A Packages index decompressed, at most DEVSHELL_HTTP_MAX_UNPACKED
    bytes of it: a few megabytes of xz can unfold into gigabytes."""
    if not ext:
        return body
    limit = http.max_unpacked()
    try:
        with _OPENERS[ext](io.BytesIO(body)) as f:
            data = f.read(limit + 1)
    except (lzma.LZMAError, OSError, EOFError, ValueError) as exc:
        raise FetchError(f"{url} cannot be decompressed ({exc})") from None
    if len(data) > limit:
        raise FetchError(f"refusing {url}: decompressed, it is more than {limit} bytes; nothing was kept",
                         hint="if the archive's index really is that large, raise DEVSHELL_HTTP_MAX_UNPACKED "
                         "(bytes, or with K, M, G)")
    return data


def packages_index(cache: HttpCache, archive: str, release: Release, component: str, arch: str) -> str | None:
    """The text of <component>/binary-<arch>/Packages (see index_url), checked
    against the Release's SHA256; None when the suite has no such index."""
    url = index_url(archive, release, component, arch)
    if url is None:
        return None
    name = url.removeprefix(f"{archive}dists/{release.suite}/")
    ext = "." + name.rpartition(".")[2] if name.rpartition(".")[2] in ("xz", "gz", "bz2") else ""
    # The signed Release names the index by hash: an index seen before is
    # reused unpacked, with no download and no decompression, whatever
    # validators the mirror sends (many send none).
    digest = release.files[name]
    unpacked = cache.home.cache / "debian" / f"Packages-{digest}"
    try:
        return unpacked.read_text(encoding="utf-8")
    except OSError:
        pass
    body = cache.get(url, sha256=digest)
    if body is None:
        raise FetchError(f"{url} is listed in the suite's Release but the archive does not serve it",
                         hint="the mirror may be mid-update; try again later")
    text = _unpacked(body, ext, url).decode("utf-8", "replace")
    from devshell import atomic

    atomic.write_text(unpacked, text)
    return text
