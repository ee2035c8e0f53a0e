"""The loopback server the benchmark calls: Debian's nginx with a canned reply, over HTTPS.

nginx answers every request with what Cognito answers UpdateAuthEventFeedback
(``200``, ``{}``, ``application/x-amz-json-1.1``, an ``x-amzn-RequestId``),
from one worker on 127.0.0.1, with a config written to a temporary directory
and no logging, so it is not the bottleneck on a 2-core machine. It speaks
TLS only, with a certificate from a CA made for the run (_tls.py): real
users pay for TLS, and every client is told to trust ``Server.ca_path``.
If nginx cannot be had, a small asyncio server (_pyserver.py) stands in,
with the same certificate, and the report says so.

Other sections of the benchmark take a ``Server`` (``url``, ``ca_path``)
from ``start()``, so they call the same server and trust the same CA.
"""

from __future__ import annotations

import contextlib
import grp
import http.client
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _tls
from _worker import CONTENT_TYPE, REQUEST_ID

HERE = Path(__file__).resolve().parent

NGINX_CONF = """\
worker_processes 1;
daemon off;
master_process on;
{user}
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    server_tokens on;
    server {{
        listen 127.0.0.1:{port} ssl backlog=1024;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location = /nginx_status {{ stub_status; }}
        location / {{
            default_type {content_type};
            add_header x-amzn-RequestId {request_id} always;
            return 200 '{{}}';
        }}
    }}
}}
"""

INSTALL_HINT = "apt-get update && apt-get install -y nginx"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True
        time.sleep(0.05)
    return False


def _user_line() -> str:
    # As root, nginx drops its workers to an unprivileged user; name one that
    # exists here (Debian's default config says www-data).
    if os.geteuid() != 0:
        return ""
    for user in ("www-data", "nobody"):
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            continue
        return f"user {user} {grp.getgrgid(entry.pw_gid).gr_name};"
    return ""


def install_nginx() -> bool:
    """apt-get install nginx (as root only); True when nginx is then on PATH."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "nginx"]):
        if subprocess.run(command, env=env, check=False, timeout=600).returncode != 0:
            return False
    return nginx_path() is not None


def nginx_path() -> str | None:
    """Where nginx is, if anywhere (sbin is often off a user's PATH)."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


class Server:
    """A running loopback server over HTTPS: ``url``, ``ca_path`` (the CA to trust),
    ``kind``, ``version``; ``stop()`` ends it."""

    def __init__(
        self,
        kind: str,
        version: str,
        port: int,
        proc: subprocess.Popen[bytes],
        certificates: _tls.Certificates,
    ):
        self.kind = kind
        self.version = version
        self.port = port
        self.url = f"https://127.0.0.1:{port}"
        self.ca_path = str(certificates.ca)
        self._proc = proc
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def stats(self) -> dict[str, int] | None:
        """nginx's stub_status counters (connections accepted, requests), or None."""
        if self.kind != "nginx":
            return None
        context = ssl.create_default_context(cafile=self.ca_path)
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=5, context=context)
        try:
            conn.request("GET", "/nginx_status")
            text = conn.getresponse().read().decode()
        except OSError:
            return None
        finally:
            conn.close()
        lines = text.splitlines()
        accepts, handled, requests = (int(x) for x in lines[2].split())
        return {"accepts": accepts, "handled": handled, "requests": requests}

    def stop(self) -> None:
        """Stop the server (its own process only) and remove its temporary files."""
        if self._proc.poll() is None:
            # nginx: SIGQUIT is a graceful stop of the master and its worker.
            self._proc.send_signal(signal.SIGQUIT if self.kind == "nginx" else signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        if self._tmp is not None:
            self._tmp.cleanup()


def start_nginx(certificates: _tls.Certificates) -> Server | None:
    """nginx on a free 127.0.0.1 port, or None if it is missing or will not start."""
    binary = nginx_path()
    if binary is None:
        return None
    version = subprocess.run(
        [binary, "-v"], capture_output=True, text=True, check=False
    ).stderr.strip()
    for _ in range(3):  # a port picked free can be taken before nginx binds it
        tmp = tempfile.TemporaryDirectory(prefix="cognito-raw-bench-nginx-")
        port = _free_port()
        conf = Path(tmp.name) / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                user=_user_line(),
                tmp=tmp.name,
                port=port,
                content_type=CONTENT_TYPE,
                request_id=REQUEST_ID,
                cert=certificates.cert,
                key=certificates.key,
            )
        )
        # nginx's workers (www-data) must reach the temp paths inside it.
        os.chmod(tmp.name, 0o755)  # noqa: S103 - holds a config and nginx's scratch dirs only
        proc = subprocess.Popen(
            [binary, "-p", tmp.name, "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if _wait_listening(port, proc, 5.0):
            server = Server(
                "nginx", version.replace("nginx version: ", ""), port, proc, certificates
            )
            server._tmp = tmp
            return server
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        log = Path(tmp.name) / "error.log"
        if log.exists():
            sys.stderr.write(log.read_text()[-2000:])
        tmp.cleanup()
    return None


def start_python_server(lifetime: float, certificates: _tls.Certificates) -> Server:
    """The asyncio fallback, stopping by itself after ``lifetime`` seconds."""
    argv = [str(lifetime), str(certificates.cert), str(certificates.key)]
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_pyserver.py"), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    if not _wait_listening(port, proc, 5.0):
        raise RuntimeError("the fallback server did not start")
    version = f"Python {sys.version.split()[0]} asyncio, {ssl.OPENSSL_VERSION}"
    return Server("python-asyncio", version, port, proc, certificates)


def start(*, install: bool, lifetime: float, tls_dir: Path) -> tuple[Server, str]:
    """The best server to be had, and a note on how it was chosen.

    A new CA and server certificate are made in ``tls_dir`` first.
    """
    certificates = _tls.make(tls_dir)
    note = ""
    if nginx_path() is None and install:
        note = "nginx was missing and has been installed with apt-get. "
        if not install_nginx():
            note = "nginx was missing and apt-get could not install it. "
    server = start_nginx(certificates)
    if server is not None:
        return server, note + "nginx, 1 worker, TLS, canned reply, access log off"
    if nginx_path() is None:
        note += f"nginx not found (install: `{INSTALL_HINT}`, or pass --install-nginx). "
    else:
        note += "nginx would not start. "
    return start_python_server(lifetime, certificates), note + "FALLBACK: Python asyncio server"
