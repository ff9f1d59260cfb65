"""Downloads over HTTPS: the server's certificate is verified against the CA
bundle requests would use (REQUESTS_CA_BUNDLE here), loaded once however
many connections a cold install opens."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import devshell, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl program")


@pytest.fixture(params=["IP:127.0.0.1"])
def tls_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[LoopbackServer, Path]]:
    """A loopback server speaking HTTPS with a self-signed certificate for
    `request.param` (a subjectAltName); yields it and the certificate (a CA
    bundle of one)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=devshell test", "-addext", f"subjectAltName={request.param}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    srv = LoopbackServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    srv.httpd.socket = context.wrap_socket(srv.httpd.socket, server_side=True)
    srv.start()
    try:
        yield srv, cert
    finally:
        srv.stop()


def _project(tmp_path: Path, srv: LoopbackServer) -> Path:
    tools = ""
    for name in ("alpha", "beta", "gamma"):
        url, sha = serve_tool(srv, name, "1.0", {f"bin/{name}": f"#!/bin/sh\necho {name}\n"})
        tools += url_tool(name, "1.0", url.replace("http://", "https://"), {"x86_64-linux": sha})
    root = tmp_path / "proj"
    write_spec(root, tools)
    return root


def test_a_certificate_no_bundle_vouches_for_is_refused(
        tmp_path: Path, tls_server: tuple[LoopbackServer, Path]) -> None:
    srv, _ = tls_server
    root = _project(tmp_path, srv)
    proc = devshell("install", cwd=root)
    assert proc.returncode == 5, proc.stderr
    assert "TLS certificate" in proc.stderr and "REQUESTS_CA_BUNDLE" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_bundle_requests_would_use_is_honoured_on_every_connection(
        tmp_path: Path, tls_server: tuple[LoopbackServer, Path]) -> None:
    srv, cert = tls_server
    root = _project(tmp_path, srv)
    env = {"REQUESTS_CA_BUNDLE": str(cert)}
    devshell("install", cwd=root, env=env, check=True)  # three downloads at once
    for name in ("alpha", "beta", "gamma"):
        assert devshell("run", "--", name, cwd=root, env=env, check=True).stdout == f"{name}\n"
    assert all(srv.hits[f"/{n}-1.0-x86_64-linux.tar.gz"] >= 1 for n in ("alpha", "beta", "gamma"))


@pytest.mark.parametrize("tls_server", ["DNS:elsewhere.invalid"], indirect=True)
def test_a_trusted_certificate_for_another_name_is_refused(
        tmp_path: Path, tls_server: tuple[LoopbackServer, Path]) -> None:
    srv, cert = tls_server
    root = _project(tmp_path, srv)
    proc = devshell("install", cwd=root, env={"REQUESTS_CA_BUNDLE": str(cert)})
    assert proc.returncode == 5, proc.stderr
    assert "TLS certificate" in proc.stderr
