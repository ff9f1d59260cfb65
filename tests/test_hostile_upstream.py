"""Upstream documents are input too: an npm registry, a Debian archive or a
vendor's checksum file served hostile must end in a clear error (exit 5,
naming the upstream and the field), never in a path outside $DEVSHELL_HOME,
an internal error, a search that never ends, or memory and disk without
bound. Every upstream here is a loopback server the test builds."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from devshell.debian.closure import PackageIndex, TooTangled, Unsatisfiable, closure
from tests.debian_archive import ArchiveServer, DebPackage, FakeArchive
from tests.helpers import devshell, sha256, tarball, url_tool, write_spec
from tests.loopback import LoopbackServer


def _home() -> Path:
    return Path(os.environ["DEVSHELL_HOME"])


def _refused(proc: Any, *fragments: str) -> None:
    """Exit 5 with every fragment in the message, and no internal error."""
    assert proc.returncode == 5, proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr


# ---------------------------------------------------------------- npm


def _sri(body: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(body).digest()).decode()


def _npm_version(server: LoopbackServer, version: str, **fields: Any) -> dict[str, Any]:
    """A version document for package `evil`, its tarball served (native for
    linux-x64, so it needs no node)."""
    body = tarball({"bin/tool": "#!/bin/sh\necho evil\n"}, top="package")
    url = server.add(f"/evil/-/evil-{hashlib.sha256(version.encode()).hexdigest()[:8]}.tgz", body)
    doc: dict[str, Any] = {"name": "evil", "version": version, "os": ["linux"], "cpu": ["x64"],
                           "bin": {"tool": "bin/tool"}, "dist": {"tarball": url, "integrity": _sri(body)}}
    doc.update(fields)
    return doc


def _npm_lock(tmp_path: Path, server: LoopbackServer, doc: object | bytes, version: str) -> Any:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    server.add("/evil", body, content_type="application/json")
    root = tmp_path / "proj"
    write_spec(root, f'tool = {{ version = "{version}", source = "npm", package = "evil" }}\n')
    return devshell("lock", cwd=root, env={"npm_config_registry": server.url})


@pytest.mark.parametrize("bad", ["1.0.0/../../../x", "1.0.0$(touch pwned)", "1.0.0\n", "1.0.0 ", ".."])
def test_an_npm_dist_tag_naming_a_path_or_a_command_is_refused(
        tmp_path: Path, server: LoopbackServer, bad: str) -> None:
    good = _npm_version(server, "1.0.0")
    doc = {"name": "evil", "dist-tags": {"latest": "1.0.0", "beta": bad},
           "versions": {"1.0.0": good, bad: _npm_version(server, bad)}}
    proc = _npm_lock(tmp_path, server, doc, "beta")
    _refused(proc, f"{server.url}/evil", "dist-tags.beta")
    root = tmp_path / "proj"
    assert not (root / "devshell.lock").exists()
    _refused(devshell("install", cwd=root, env={"npm_config_registry": server.url}), "dist-tags.beta")
    # The traversal would have landed next to $DEVSHELL_HOME; nothing is there.
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("xdg-")) == [
        "devshell-home", "proj"]
    assert not (_home() / "store").exists() or os.listdir(_home() / "store") == []


@pytest.mark.parametrize("bad", ["1.0.0\n", "1.0.0/../x"])
def test_an_npm_version_that_is_not_a_version_never_installs(
        tmp_path: Path, server: LoopbackServer, bad: str) -> None:
    doc = {"name": "evil", "dist-tags": {}, "versions": {bad: _npm_version(server, bad)}}
    proc = _npm_lock(tmp_path, server, doc, "1")
    _refused(proc, f"{server.url}/evil", repr(bad))


def test_an_npm_dist_tag_pointing_at_a_bad_version_names_the_tag(
        tmp_path: Path, server: LoopbackServer) -> None:
    doc = {"name": "evil", "dist-tags": {"latest": "1.0.0", "beta": "1.0.0/x"},
           "versions": {"1.0.0": _npm_version(server, "1.0.0")}}
    _refused(_npm_lock(tmp_path, server, doc, "latest"), f"{server.url}/evil", "dist-tags.beta")


def _doc_with(server: LoopbackServer, **version_fields: Any) -> dict[str, Any]:
    return {"name": "evil", "dist-tags": {"latest": "1.0.0"},
            "versions": {"1.0.0": _npm_version(server, "1.0.0", **version_fields)}}


@pytest.mark.parametrize(("make", "field"), [
    (lambda s: {"name": "evil", "versions": ["1.0.0"]}, "versions"),
    (lambda s: {"name": "evil", "dist-tags": ["latest"], "versions": {"1.0.0": _npm_version(s, "1.0.0")}},
     "dist-tags"),
    (lambda s: {"name": "evil", "dist-tags": {}, "versions": {"1.0.0": "a string"}}, "versions.1.0.0"),
    (lambda s: _doc_with(s, dist="a string"), "versions.1.0.0.dist"),
    (lambda s: _doc_with(s, dist={"tarball": 42, "integrity": "sha512-AAAA"}), "versions.1.0.0.dist.tarball"),
    (lambda s: _doc_with(s, dist={"tarball": s.url + "/x.tgz", "integrity": "sha512-short"}),
     "versions.1.0.0.dist.integrity"),
    (lambda s: _doc_with(s, dist={"tarball": s.url + "/x.tgz", "integrity": ["sha512-x"]}),
     "versions.1.0.0.dist.integrity"),
    (lambda s: _doc_with(s, bin={"$(id)": "bin/tool"}), "versions.1.0.0.bin"),
    (lambda s: _doc_with(s, bin={"tool": "../../outside"}), "versions.1.0.0.bin"),
    (lambda s: _doc_with(s, bin=["tool"]), "versions.1.0.0.bin"),
    (lambda s: _doc_with(s, os=42, cpu="x64"), "versions.1.0.0.os"),  # one name is fine: a number is not
], ids=["versions-list", "dist-tags-list", "version-string", "dist-string", "tarball-number",
        "integrity-short", "integrity-list", "bin-name-command", "bin-path-outside", "bin-list", "os-number"])
def test_a_malformed_npm_document_is_a_fetch_error_naming_the_field(
        tmp_path: Path, server: LoopbackServer, make: Any, field: str) -> None:
    proc = _npm_lock(tmp_path, server, make(server), "1.0.0")
    _refused(proc, f"{server.url}/evil", field)


def test_an_npm_document_that_is_not_json_is_a_fetch_error(tmp_path: Path, server: LoopbackServer) -> None:
    _refused(_npm_lock(tmp_path, server, b"{not json", "1.0.0"), f"{server.url}/evil", "not JSON")


# ---------------------------------------------------------------- Debian indexes


@pytest.fixture
def deb_archive(tmp_path: Path) -> Any:
    """A fake archive with libc6, and a PATH without gpgv (the Release is not
    signed); yields (archive, env for the console script)."""
    server = ArchiveServer().start()
    try:
        archive = FakeArchive(server)
        archive.add(DebPackage("libc6", "2.36-9", files={"usr/lib/libc.so.6": b"\x7fELF libc"}))
        nogpgv = tmp_path / "empty-path"
        nogpgv.mkdir()
        yield archive, {"DEVSHELL_DEB_ARCHIVE": archive.url, "PATH": str(nogpgv)}
    finally:
        server.stop()


def _paragraph(name: str = "tool", **fields: str) -> str:
    """A Packages paragraph whose fields are all well formed, but for `fields`."""
    values = {"Package": name, "Version": "1.0-1", "Architecture": "amd64",
              "Filename": f"pool/main/t/{name}/{name}_1.0-1_amd64.deb", "Size": "100",
              "SHA256": "ab" * 32, "Depends": "libc6"}
    values.update({k.replace("_", "-"): v for k, v in fields.items()})
    return "".join(f"{k}: {v}\n" for k, v in values.items() if v is not None)


def _deb_lock(tmp_path: Path, deb_archive: Any, *paragraphs: str, tool: str = "tool") -> Any:
    archive, env = deb_archive
    archive.raw.extend(paragraphs)
    archive.publish()
    root = tmp_path / "proj"
    write_spec(root, f'"deb:{tool}" = {{ version = "latest", bin = ["usr/bin/{tool}"] }}\n',
               extra='[sources.deb]\nsuite = "testing-fake"\n')
    return devshell("lock", cwd=root, env=env)


@pytest.mark.parametrize(("fields", "field"), [
    ({"Version": "1.0/../../x"}, "Version"),
    ({"Version": "1.0$(id)"}, "Version"),
    ({"Version": "abc"}, "Version"),
    ({"SHA256": "00"}, "SHA256"),
    ({"SHA256": "zz" * 32}, "SHA256"),
    ({"Size": "big"}, "Size"),
    ({"Size": "-1"}, "Size"),
    ({"Filename": "../../../etc/passwd"}, "Filename"),
    ({"Filename": "/etc/passwd"}, "Filename"),
    ({"Depends": "ev/il"}, "Depends"),
    ({"Depends": "libc6 (>= 1.0/../x)"}, "Depends"),
    ({"Pre_Depends": "libc6 (>= 1:)"}, "Pre-Depends"),
    ({"Provides": "x (= 1/2)"}, "Provides"),
], ids=lambda v: str(v) if isinstance(v, str) else "-".join(f"{k}={x}" for k, x in v.items()))
def test_a_malformed_packages_field_is_a_fetch_error_naming_the_index_and_field(
        tmp_path: Path, deb_archive: Any, fields: dict[str, str], field: str) -> None:
    proc = _deb_lock(tmp_path, deb_archive, _paragraph(**fields))
    _refused(proc, "dists/testing-fake/main/binary-amd64/Packages", "'tool'", field)
    assert not (tmp_path / "proj" / "devshell.lock").exists()


def test_a_package_name_with_a_slash_in_the_closure_is_refused(tmp_path: Path, deb_archive: Any) -> None:
    # Reached through Provides: the dependency is a plain name, its provider is not.
    hostile = _paragraph("ev/il", Provides="evil", Depends="") + "\n"
    proc = _deb_lock(tmp_path, deb_archive, _paragraph(Depends="evil"), hostile)
    _refused(proc, "binary-amd64/Packages", "Package", "ev/il")


def test_a_paragraph_whose_package_field_changes_its_mind_is_refused(
        tmp_path: Path, deb_archive: Any) -> None:
    proc = _deb_lock(tmp_path, deb_archive, "Package: tool\n" + _paragraph("../x").replace("Package: ../x\n", "")
                     + "Package: ../x\n")
    _refused(proc, "binary-amd64/Packages", "Package")


def _chain_index(paragraphs: list[tuple[str, str]]) -> PackageIndex:
    """An index of (name, Depends) packages, every other field well formed."""
    return PackageIndex(["\n".join(_paragraph(n, Depends=d) for n, d in paragraphs)], "amd64")


def test_a_dependency_chain_deeper_than_the_recursion_limit_resolves() -> None:
    depth = 1500
    index = _chain_index([(f"p{i}", f"p{i + 1}" if i < depth else "") for i in range(depth + 1)])
    found = closure(index, index.packages("p0")[0])
    assert len(found) == depth + 1


def test_a_deep_chain_to_a_missing_package_names_both_ends_of_the_chain() -> None:
    depth = 1500
    index = _chain_index([(f"p{i}", f"p{i + 1}" if i < depth else "gone") for i in range(depth + 1)])
    with pytest.raises(Unsatisfiable) as err:
        closure(index, index.packages("p0")[0])
    message = str(err.value)
    assert message.startswith("p0 → p1 → p2 → p3 → … (") and "p1500 → gone: the suite has no package gone" in message
    assert len(message) < 300


def _maze(levels: int) -> PackageIndex:
    """`root` needs a1 | b1; each a_i and b_i needs a_(i+1) | b_(i+1); the last
    level needs a package the suite does not have: 2^levels ways to fail."""
    paras = [("root", "a1 | b1")]
    for i in range(1, levels + 1):
        needs = f"a{i + 1} | b{i + 1}" if i < levels else "missing"
        paras += [(f"a{i}", needs), (f"b{i}", needs)]
    return _chain_index(paras)


def test_an_exponential_maze_of_alternatives_gives_up_quickly_naming_the_chain() -> None:
    index = _maze(24)
    start = time.monotonic()
    with pytest.raises(TooTangled) as err:
        closure(index, index.packages("root")[0])
    assert time.monotonic() - start < 30
    message = str(err.value)
    assert "gave up after 100000 steps, at root → a1 → a2" in message
    assert "the deepest unmet dependency so far: root → a1" in message and "missing: the suite has no package missing" in message


def test_a_small_maze_still_fails_with_the_real_reason() -> None:
    index = _maze(4)
    with pytest.raises(Unsatisfiable, match=r"root → a1 → a2 → a3 → a4 → missing: the suite has no package missing"):
        closure(index, index.packages("root")[0])


def test_a_maze_in_a_real_lock_is_exit_5_naming_the_tool(tmp_path: Path, deb_archive: Any) -> None:
    paras = [_paragraph("tool", Depends="a1 | b1")]
    for i in range(1, 25):
        needs = f"a{i + 1} | b{i + 1}" if i < 24 else "missing"
        paras += [_paragraph(f"a{i}", Depends=needs), _paragraph(f"b{i}", Depends=needs)]
    start = time.monotonic()
    proc = _deb_lock(tmp_path, deb_archive, *paras)
    assert time.monotonic() - start < 60
    _refused(proc, "tools.tool", "tool 1.0-1", "gave up after 100000 steps, at tool → a1")


# ---------------------------------------------------------------- documents without end


def test_an_npm_document_larger_than_the_limit_is_refused(tmp_path: Path, server: LoopbackServer) -> None:
    doc = _doc_with(server, description="x" * (2 * 1024 * 1024))
    server.add("/evil", json.dumps(doc).encode(), content_type="application/json")
    root = tmp_path / "proj"
    write_spec(root, 'tool = { version = "1.0.0", source = "npm", package = "evil" }\n')
    proc = devshell("lock", cwd=root, env={"npm_config_registry": server.url, "DEVSHELL_HTTP_MAX_DOCUMENT": "1M"})
    _refused(proc, f"{server.url}/evil", "more than 1048576 bytes", "DEVSHELL_HTTP_MAX_DOCUMENT")


def test_a_packages_index_that_unfolds_past_the_limit_is_refused(tmp_path: Path, deb_archive: Any) -> None:
    archive, env = deb_archive
    env["DEVSHELL_HTTP_MAX_UNPACKED"] = "1M"
    # Two megabytes of description compress to almost nothing.
    archive.raw.append(_paragraph("padding", Description="x" + "\n ." * (1024 * 1024)))
    proc = _deb_lock(tmp_path, (archive, env), _paragraph())
    _refused(proc, "binary-amd64/Packages.xz", "decompressed, it is more than 1048576 bytes",
             "DEVSHELL_HTTP_MAX_UNPACKED")


def test_an_npm_tarball_that_never_ends_is_refused_at_install(tmp_path: Path, server: LoopbackServer) -> None:
    doc = _doc_with(server)
    server.add("/evil", json.dumps(doc).encode(), content_type="application/json")
    root = tmp_path / "proj"
    write_spec(root, 'tool = { version = "1.0.0", source = "npm", package = "evil" }\n')
    env = {"npm_config_registry": server.url, "DEVSHELL_HTTP_MAX_DOWNLOAD": "1M"}
    devshell("lock", cwd=root, env=env, check=True)  # npm gives no tarball size: the lock has none
    tarball_path = next(p for p in server.routes if p.endswith(".tgz"))
    server.endless_limit = 64 * 1024 * 1024
    server.routes[tarball_path].faults.append("endless")
    proc = devshell("install", cwd=root, env=env)
    _refused(proc, "more than 1048576 bytes", "nothing was kept", "DEVSHELL_HTTP_MAX_DOWNLOAD")
    for kept in ("downloads", "tmp"):  # the registry document stays in cache/http
        assert [p for p in (_home() / "cache" / kept).rglob("*") if p.is_file()] == []
    assert not (_home() / "store").exists() or [p for p in os.listdir(_home() / "store")
                                                 if not p.startswith(".")] == []


# ---------------------------------------------------------------- checksum files


def _sums_lock(tmp_path: Path, server: LoopbackServer, sums: str) -> tuple[Any, str, str]:
    """Lock a url tool verified by the checksum file `sums` ({file} and {sha}
    stand for the artifact's name and hash); returns (process, sums URL, sha)."""
    body = tarball({"bin/hello": "#!/bin/sh\necho hello\n"}, top="hello-1.0")
    file = "hello-1.0-x86_64-linux.tar.gz"
    server.add(f"/{file}", body)
    sums_url = server.add("/SHA256SUMS", sums.format(file=file, sha=sha256(body)).encode())
    root = tmp_path / "proj"
    write_spec(root, f'hello = {{ version = "1.0", url = "{server.url}/hello-{{version}}-{{platform}}.tar.gz", '
                     f'checksums = "{sums_url}", bin = ["bin/hello"] }}\n')
    return devshell("lock", cwd=root), sums_url, sha256(body)


@pytest.mark.parametrize(("sums", "line"), [
    ("{sha}  {file}\n" + "0" * 64 + "  {file}\n", "line 2"),
    ("0" * 64 + "  {file}\n{sha}  {file}\n", "line 2"),
    ("{sha}  {file}\n{sha} *{file}\n", "line 2"),
    ("{sha} *../{file}\n", "line 1"),
    ("{sha}  /srv/{file}\n", "line 1"),
    ("{sha}  dist/../{file}\n", "line 1"),
    ("zz" + "0" * 62 + "  {file}\n", "line 1"),
    ("abc  {file}\n", "line 1"),
    ("{sha}\n{sha}  {file}\n", "line 1"),
], ids=["duplicate", "duplicate-first-wrong", "duplicate-binary-marker", "dotdot", "absolute",
        "dotdot-inside", "not-hex", "short", "bare-hash-among-names"])
def test_a_checksum_file_that_is_ambiguous_or_malformed_is_refused_naming_the_line(
        tmp_path: Path, server: LoopbackServer, sums: str, line: str) -> None:
    proc, sums_url, _ = _sums_lock(tmp_path, server, sums)
    _refused(proc, sums_url, line)
    assert not (tmp_path / "proj" / "devshell.lock").exists()


@pytest.mark.parametrize("sums", [
    "# release 1.0\n\n{sha}  {file}\n" + "1" * 64 + "  other.tar.gz\n",
    "{sha} *{file}\n",
    "{sha}  ./{file}\n",
    "{sha}  dist/{file}\n" + "1" * 64 + "  dist/other.tar.gz\n",
    "{sha}\n",  # one bare hash: a file made for this one artifact (kubectl.sha256)
], ids=["comments-and-others", "binary-marker", "dot-slash", "in-a-directory", "bare-hash"])
def test_well_formed_checksum_files_still_lock(tmp_path: Path, server: LoopbackServer, sums: str) -> None:
    proc, _, sha = _sums_lock(tmp_path, server, sums)
    assert proc.returncode == 0, proc.stderr
    locked = json.loads((tmp_path / "proj" / "devshell.lock").read_text())
    got = locked["tools"]["hello"]["platforms"]["x86_64-linux"]["integrity"]
    assert got == "sha256-" + base64.b64encode(bytes.fromhex(sha)).decode()


def test_a_name_two_directories_share_is_ambiguous(tmp_path: Path, server: LoopbackServer) -> None:
    proc, sums_url, _ = _sums_lock(tmp_path, server, "{sha}  linux/{file}\n" + "1" * 64 + "  other/{file}\n")
    _refused(proc, sums_url, "lines 1 and 2")


# ---------------------------------------------------------------- stale hashes


def _serve_hello(server: LoopbackServer, version: str) -> str:
    body = tarball({"bin/hello": f"#!/bin/sh\necho hello {version}\n"}, top=f"hello-{version}")
    server.add(f"/hello-{version}-x86_64-linux.tar.gz", body)
    return sha256(body)


def test_a_bumped_version_with_the_old_sha256_never_borrows_the_old_bytes(
        tmp_path: Path, server: LoopbackServer) -> None:
    old, new = _serve_hello(server, "1.0.0"), _serve_hello(server, "2.0.0")
    url = f"{server.url}/hello-{{version}}-{{platform}}.tar.gz"
    root = tmp_path / "proj"
    write_spec(root, url_tool("hello", "1.0.0", url, {"x86_64-linux": old}, bin='["bin/hello"]'))
    assert devshell("run", "--", "hello", cwd=root, check=True).stdout == "hello 1.0.0\n"
    lock_before = (root / "devshell.lock").read_text()
    store_before = sorted(os.listdir(_home() / "store"))

    write_spec(root, url_tool("hello", "2.0.0", url, {"x86_64-linux": old}, bin='["bin/hello"]'))
    for command in (("lock",), ("install",), ("run", "--", "hello")):
        proc = devshell(*command, cwd=root)
        _refused(proc, "hello", f"{server.url}/hello-2.0.0-x86_64-linux.tar.gz",
                 "sha256-" + base64.b64encode(bytes.fromhex(old)).decode(),
                 "sha256-" + base64.b64encode(bytes.fromhex(new)).decode())
        assert "tools.hello.sha256" in proc.stderr  # the hint says what to fix
    assert (root / "devshell.lock").read_text() == lock_before
    assert sorted(os.listdir(_home() / "store")) == store_before
    assert not any("hello-2.0.0" in name for name in os.listdir(_home() / "store"))


def test_a_wrong_sha256_in_the_spec_fails_at_lock_time(tmp_path: Path, server: LoopbackServer) -> None:
    _serve_hello(server, "1.0.0")
    wrong = hashlib.sha256(b"not the file").hexdigest()
    root = tmp_path / "proj"
    write_spec(root, url_tool("hello", "1.0.0", f"{server.url}/hello-{{version}}-{{platform}}.tar.gz",
                              {"x86_64-linux": wrong}, bin='["bin/hello"]'))
    _refused(devshell("lock", cwd=root), "hash mismatch", "hello-1.0.0-x86_64-linux.tar.gz")
    assert not (root / "devshell.lock").exists()
    assert os.listdir(_home() / "cache" / "downloads") == [] if (_home() / "cache" / "downloads").exists() else True


def test_the_bytes_checked_at_lock_time_serve_the_install(tmp_path: Path, server: LoopbackServer) -> None:
    sha = _serve_hello(server, "1.0.0")
    body = tarball({"bin/hello": "#!/bin/sh\necho hello arm\n"}, top="hello-1.0.0")
    server.add("/hello-1.0.0-aarch64-linux.tar.gz", body)
    root = tmp_path / "proj"
    write_spec(root, url_tool("hello", "1.0.0", f"{server.url}/hello-{{version}}-{{platform}}.tar.gz",
                              {"x86_64-linux": sha, "aarch64-linux": sha256(body)}, bin='["bin/hello"]'),
               platforms='["x86_64-linux", "aarch64-linux"]')
    devshell("lock", cwd=root, check=True)
    assert server.hits["/hello-1.0.0-x86_64-linux.tar.gz"] == 1  # this machine's platform, checked
    assert server.hits["/hello-1.0.0-aarch64-linux.tar.gz"] == 0  # the others are checked where they run
    assert devshell("run", "--", "hello", cwd=root, check=True).stdout == "hello 1.0.0\n"
    assert server.hits["/hello-1.0.0-x86_64-linux.tar.gz"] == 1


def test_checking_the_sha256_needs_the_network(tmp_path: Path, server: LoopbackServer) -> None:
    sha = _serve_hello(server, "1.0.0")
    root = tmp_path / "proj"
    write_spec(root, url_tool("hello", "1.0.0", f"{server.url}/hello-{{version}}-{{platform}}.tar.gz",
                              {"x86_64-linux": sha}, bin='["bin/hello"]'))
    devshell("install", cwd=root, check=True)
    (root / "devshell.lock").unlink()
    proc = devshell("lock", cwd=root, env={"DEVSHELL_OFFLINE": "1"})
    _refused(proc, "DEVSHELL_OFFLINE=1", "tools.hello")


@pytest.mark.parametrize("sums", ["SHA256:\n garbage\n", "SHA256: oops\n", "SHA256:\n " + "a" * 64 + " big main/x\n",
                                  "SHA256:\n xyz 12 main/binary-amd64/Packages\n"],
                         ids=["one-word", "inline", "size-not-a-number", "not-hex"])
def test_a_malformed_release_is_a_fetch_error_naming_it(tmp_path: Path, deb_archive: Any, sums: str) -> None:
    archive, env = deb_archive
    archive.publish()
    archive.server.add(f"/debian/dists/{archive.suite}/InRelease",
                       f"Suite: {archive.suite}\nComponents: main\nArchitectures: amd64\n{sums}".encode())
    root = tmp_path / "proj"
    write_spec(root, '"deb:libc6" = { version = "latest", bin = ["usr/bin/x"] }\n',
               extra='[sources.deb]\nsuite = "testing-fake"\n')
    _refused(devshell("lock", cwd=root, env=env), f"dists/{archive.suite}/InRelease", "SHA256")


def test_programs_a_package_ships_under_names_no_shell_word_can_hold_are_not_exposed(
        tmp_path: Path, deb_archive: Any) -> None:
    archive, env = deb_archive
    archive.add(DebPackage("tool", "1.0-1", depends="libc6", files={
        "usr/bin/tool": "#!/bin/sh\n", "usr/bin/[": "#!/bin/sh\n", "usr/bin/$(id)": "#!/bin/sh\n",
        "usr/bin/a b": "#!/bin/sh\n", "usr/bin/-rf": "#!/bin/sh\n"}))
    archive.publish()
    root = tmp_path / "proj"
    write_spec(root, '"deb:tool" = "latest"\n', extra='[sources.deb]\nsuite = "testing-fake"\n')
    proc = devshell("lock", cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr
    locked = json.loads((root / "devshell.lock").read_text())
    assert locked["tools"]["tool"]["platforms"]["x86_64-linux"]["bin"] == ["usr/bin/tool"]
