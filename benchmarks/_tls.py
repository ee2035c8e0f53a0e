"""A throwaway certificate authority and a server certificate for 127.0.0.1.

Made with the ``openssl`` command at the start of every run (nothing secret
is kept between runs). Every client under test is told to trust ``ca.pem``,
as a user would be with a private CA; none of them skips verification.
RSA 2048 with SHA-256, like the certificates AWS endpoints serve, so the
handshake costs what it costs against Cognito. The extensions are the ones
a strict verifier asks for (basic constraints, key usage, key identifiers,
subjectAltName), so newer Pythons and OpenSSLs accept them too.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

CA_EXTENSIONS = """\
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

SERVER_EXTENSIONS = """\
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


@dataclass(frozen=True)
class Certificates:
    """Where the files are: the CA to trust, and the server's chain and key."""

    ca: Path
    cert: Path
    key: Path


def _openssl(*args: str | Path) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise RuntimeError("the benchmark needs the openssl command (apt-get install openssl)")
    done = subprocess.run(
        [binary, *(str(a) for a in args)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed:\n{done.stderr[-2000:]}")


def make(directory: Path) -> Certificates:
    """A fresh CA and a server certificate signed by it, in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    extensions = directory / "extensions.cnf"
    extensions.write_text(CA_EXTENSIONS + SERVER_EXTENSIONS)
    # A 2-day validity: long enough for any run, short enough to mean nothing later.
    _openssl("genrsa", "-out", ca_key, "2048")
    _openssl(
        "req", "-x509", "-new", "-key", ca_key, "-sha256", "-days", "2",
        "-subj", "/CN=cognito-raw benchmark CA", "-out", ca,
        "-config", extensions, "-extensions", "ca",
    )  # fmt: skip
    _openssl("genrsa", "-out", key, "2048")
    _openssl("req", "-new", "-key", key, "-subj", "/CN=127.0.0.1", "-out", csr)
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-days", "2", "-sha256", "-out", cert, "-extfile", extensions, "-extensions", "server",
    )  # fmt: skip
    return Certificates(ca=ca, cert=cert, key=key)
