"""CertificateCheck against a real local TLS server and real certificate files, generated here
(a CA, then certificates valid, expiring, expired, for the wrong host, and self-signed)."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask

from flask_healthcheck import CheckError, HealthCheck
from flask_healthcheck.contrib.certificates import CertificateCheck, not_after
from tests.services import free_port

NOW = datetime.datetime.now(datetime.timezone.utc)


class Authority:
    """A CA of the test's own, and certificates it (or nobody) signs."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(days=1))
            .not_valid_after(NOW + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.path = directory / "ca.pem"
        self.path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def issue(
        self,
        label: str,
        *,
        days: float,
        host: str = "localhost",
        self_signed: bool = False,
        until: datetime.datetime | None = None,
    ) -> tuple[Path, Path, x509.Certificate]:
        """A certificate for *host* valid *days* from now (negative: expired); its PEM file,
        its key's PEM file, and the certificate."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
        issuer = subject if self_signed else self.certificate.subject
        ends = until or NOW + datetime.timedelta(days=days)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(min(NOW, ends) - datetime.timedelta(days=30))
            .not_valid_after(ends)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(key if self_signed else self.key, hashes.SHA256())
        )
        certificate_path = self.directory / f"{label}.pem"
        key_path = self.directory / f"{label}.key"
        certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return certificate_path, key_path, certificate


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority(tmp_path_factory.mktemp("certificates"))


class TlsServer:
    """A TLS server on a loopback port that completes handshakes with one certificate."""

    def __init__(self, certificate: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certificate, key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            try:
                with self.context.wrap_socket(connection, server_side=True) as tls:
                    tls.recv(1)  # the client closes after the handshake
            except (OSError, ssl.SSLError):
                pass  # a client that refused the certificate

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def serve(authority: Authority) -> Iterator[object]:
    servers: list[TlsServer] = []

    def start(label: str, **issue: object) -> int:
        certificate, key, _ = authority.issue(label, **issue)  # type: ignore[arg-type]
        server = TlsServer(certificate, key)
        servers.append(server)
        return server.port

    yield start
    for server in servers:
        server.close()


def served(authority: Authority, port: int, **options: object) -> CertificateCheck:
    return CertificateCheck(
        "127.0.0.1", port, server_name="localhost", cafile=authority.path, **options
    )  # type: ignore[arg-type]


def test_a_valid_served_certificate_passes_with_its_days_left(
    authority: Authority, serve: object
) -> None:
    port = serve("valid", days=90)  # type: ignore[operator]
    outcome = served(authority, port)()
    assert outcome.passed
    assert not outcome.warning
    assert outcome.output == "valid for 90 days"
    assert outcome.observed_unit == "days"
    assert 89.5 < outcome.observed_value <= 90  # type: ignore[operator]
    assert f"certificate of 127.0.0.1:{port} (CN=localhost)" in (outcome.detail or "")


def test_a_certificate_near_its_end_warns_then_fails(authority: Authority, serve: object) -> None:
    warning = served(authority, serve("soon", days=20))()  # type: ignore[operator]
    assert warning.passed
    assert warning.warning
    assert warning.output.startswith("expires in 20 days, on ")
    with pytest.raises(CheckError, match=r"certificate expires in [23]\.\d days, on "):
        served(authority, serve("sooner", days=3))()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("label", "issue", "says"),
    [
        ("expired", {"days": -2}, "certificate not trusted: certificate has expired"),
        ("elsewhere", {"days": 90, "host": "other.example"}, "certificate not trusted: Hostname"),
        ("own", {"days": 90, "self_signed": True}, "certificate not trusted: self"),
    ],
)
def test_chain_and_host_name_problems_fail_named(
    authority: Authority, serve: object, label: str, issue: dict[str, object], says: str
) -> None:
    port = serve(label, **issue)  # type: ignore[operator]
    with pytest.raises(CheckError) as caught:
        served(authority, port)()
    assert str(caught.value).startswith(says)
    assert f"127.0.0.1:{port}" not in str(caught.value)  # the host stays in the detail
    assert f"127.0.0.1:{port}" in (caught.value.detail or "")


def test_a_closed_port_is_named(authority: Authority) -> None:
    with pytest.raises(CheckError, match="connection refused"):
        served(authority, free_port())()


def test_files_report_the_soonest_certificate_to_expire(
    authority: Authority, tmp_path: Path
) -> None:
    later, _, _ = authority.issue("later", days=200)
    sooner, _, _ = authority.issue("sooner-file", days=25)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(later.read_bytes() + b"\n" + sooner.read_bytes())
    outcome = CertificateCheck(files=[authority.path, bundle])()
    assert outcome.warning
    assert outcome.output.startswith("expires in 25 days")
    assert f"certificate in {bundle} (certificate 2 of 2)" in (outcome.detail or "")
    expired, _, _ = authority.issue("gone", days=-10)
    with pytest.raises(CheckError, match="certificate expired 10 days ago"):
        CertificateCheck(files=[bundle, expired])()


def test_unreadable_files_fail_with_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(CheckError, match="no such file"):
        CertificateCheck(files=[tmp_path / "missing.pem"])()
    (tmp_path / "key.pem").write_text(
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    )
    with pytest.raises(CheckError, match="no PEM certificate in the file"):
        CertificateCheck(files=[tmp_path / "key.pem"])()


def test_not_after_reads_utc_and_generalized_times(authority: Authority) -> None:
    for label, until in (
        ("utc-time", NOW + datetime.timedelta(days=400)),
        ("generalized-time", datetime.datetime(2051, 6, 1, 12, 30, tzinfo=datetime.timezone.utc)),
    ):
        _, _, certificate = authority.issue(label, days=0, until=until)
        der = certificate.public_bytes(serialization.Encoding.DER)
        assert not_after(der) == certificate.not_valid_after_utc.timestamp()
    with pytest.raises(ValueError):
        not_after(b"\x30\x03\x02\x01\x01")


def test_public_answers_show_the_days_and_withhold_the_host(
    authority: Authority, serve: object
) -> None:
    port = serve("app", days=90)  # type: ignore[operator]
    app = Flask("certificates")
    app.config["HEALTHCHECK_TOKEN"] = "t0ken"
    health = HealthCheck(app)
    health.add_check(served(authority, port, name="certificate:api"))
    client = app.test_client()
    public = client.get("/healthz/certificate:api").get_json()["results"][0]
    assert public["output"] == "valid for 90 days"
    assert public["observed_value"] > 89
    private = client.get(
        "/healthz/certificate:api", headers={"Authorization": "Bearer t0ken"}
    ).get_json()["results"][0]
    assert f"127.0.0.1:{port}" in private["output"]


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({}, "needs a host, or files"),
        ({"host": "a", "files": ["b"]}, "needs a host, or files"),
        ({"host": "a", "port": 0}, "port must be a number"),
        ({"host": "a", "warn_days": 5, "fail_days": 10}, "at most warn_days"),
    ],
)
def test_bad_arguments_are_refused(arguments: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        CertificateCheck(**arguments)  # type: ignore[arg-type]
