"""TLS certificates: days until a certificate expires, served by a host or kept in files.

Only the standard library is used (:mod:`ssl`), so this integration needs no extra.

``CertificateCheck("api.example.com")`` connects to port 443 with SNI, verifies the chain and the
host name as a client would (against the system's CAs, or ``cafile=``), and reports the days
left on the served certificate. ``CertificateCheck(files=["/etc/app/client.pem"])`` reads the
app's own certificates (client certificates, a CA bundle) and reports the soonest to expire.
Either passes with a warning below ``warn_days`` (30) and fails below ``fail_days`` (7); the
days left are the observed value. A chain or host name problem fails, named
("certificate has expired", "self-signed certificate", "Hostname mismatch ...").

The public sees the days and the problem; the host, the files and the certificates' subjects
are in the detail only a request bearing the token sees.
"""

from __future__ import annotations

import base64
import datetime
import os
import re
import socket
import ssl
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from flask_healthcheck.contrib._base import BuiltinCheck
from flask_healthcheck.contrib._outcomes import describe_os_error, failure
from flask_healthcheck.results import Outcome

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from flask_healthcheck.registry import CheckOptions

__all__ = ["CertificateCheck", "not_after"]

_PEM = re.compile(
    rb"-----BEGIN CERTIFICATE-----\s+(?P<body>[A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----"
)
_DAY = 86400.0


class CertificateCheck(BuiltinCheck):
    """Days until a TLS certificate expires: the one *host* serves on *port* (with SNI, the
    chain and the host name verified), or the soonest of the certificates in *files*.

    *server_name* is the name sent in SNI and verified (default *host*); *cafile* the CAs to
    trust instead of the system's. The name defaults to ``certificate``; a second check needs
    a ``name=`` of its own. The other options are those of
    :meth:`~flask_healthcheck.HealthCheck.add_check`.
    """

    name = "certificate"

    def __init__(
        self,
        host: str | None = None,
        port: int = 443,
        *,
        files: Sequence[str | os.PathLike[str]] = (),
        server_name: str | None = None,
        cafile: str | os.PathLike[str] | None = None,
        warn_days: float = 30,
        fail_days: float = 7,
        **options: Unpack[CheckOptions],
    ) -> None:
        if (host is None) == (not files):
            raise ValueError("CertificateCheck needs a host, or files=[...], and not both")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"port must be a number from 1 to 65535; got {port!r}")
        if not 0 <= fail_days <= warn_days:
            raise ValueError(
                f"fail_days ({fail_days!r}) must be 0 or more and at most warn_days ({warn_days!r})"
            )
        self.host = host
        self.port = port
        self.files = tuple(Path(path) for path in files)
        self.server_name = server_name or host
        self.cafile = cafile
        self.warn_days = warn_days
        self.fail_days = fail_days
        super().__init__(**options)

    def __repr__(self) -> str:
        where = f"{self.host!r}, {self.port!r}" if self.host else f"files={list(self.files)!r}"
        return f"CertificateCheck({where}, name={self.name!r})"

    def __call__(self) -> Outcome:
        if self.host is not None:
            where = f"certificate of {self.host}:{self.port}"
            expires, subject = self._served(where)
        else:
            where, expires, subject = self._soonest_in_files()
        return self._judged(where, expires, subject)

    def _served(self, where: str) -> tuple[float, str]:
        assert self.host is not None
        budget = self.time_left()
        context = ssl.create_default_context(cafile=self.cafile)
        try:
            with (
                socket.create_connection((self.host, self.port), timeout=budget) as raw,
                context.wrap_socket(raw, server_hostname=self.server_name) as tls,
            ):
                certificate = tls.getpeercert()
        except ssl.SSLCertVerificationError as exc:
            raise failure(f"certificate not trusted: {exc.verify_message}", where) from exc
        except OSError as exc:
            raise failure(describe_os_error(exc, budget), where) from exc
        if not certificate or "notAfter" not in certificate:
            raise failure("the server sent no certificate", where)
        expires = ssl.cert_time_to_seconds(str(certificate["notAfter"]))
        return expires, _subject(certificate.get("subject", ()))

    def _soonest_in_files(self) -> tuple[str, float, str]:
        soonest: tuple[float, str, str] | None = None
        for path in self.files:
            where = f"certificate in {path}"
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise failure(describe_os_error(exc), where) from exc
            found = list(_certificates(data))
            if not found:
                raise failure("no PEM certificate in the file", where)
            for index, der in enumerate(found):
                try:
                    expires = not_after(der)
                except ValueError as exc:
                    raise failure(f"unreadable certificate ({exc})", where) from exc
                if soonest is None or expires < soonest[0]:
                    soonest = (expires, where, f"certificate {index + 1} of {len(found)}")
        assert soonest is not None
        expires, where, which = soonest
        return where, expires, which

    def _judged(self, where: str, expires: float, subject: str) -> Outcome:
        days = (expires - _now()) / _DAY
        until = datetime.datetime.fromtimestamp(expires, datetime.timezone.utc)
        on = f"{until:%Y-%m-%d}"
        detail = f"{where} ({subject}), valid until {until:%Y-%m-%d %H:%M} UTC"
        if days < 0:
            raise failure(f"certificate expired {-days:.0f} days ago, on {on}", detail)
        if days < self.fail_days:
            raise failure(f"certificate expires in {days:.1f} days, on {on}", detail)
        warning = days < self.warn_days
        said = f"expires in {days:.0f} days, on {on}" if warning else f"valid for {days:.0f} days"
        return Outcome(
            True,
            said,
            observed_value=round(days, 1),
            observed_unit="days",
            warning=warning,
            detail=f"{detail}: {said}",
        )


def _now() -> float:
    return datetime.datetime.now(datetime.timezone.utc).timestamp()


def _subject(subject: object) -> str:
    """``CN=api.example.com`` of the nested tuples :meth:`ssl.SSLSocket.getpeercert` gives."""
    names = [
        f"{key}={value}"
        for group in subject  # type: ignore[attr-defined]
        for key, value in group
        if key in {"commonName", "organizationName"}
    ]
    return ", ".join(names).replace("commonName", "CN").replace("organizationName", "O") or "-"


def _certificates(data: bytes) -> Iterator[bytes]:
    """The DER bytes of each PEM certificate in *data*."""
    for match in _PEM.finditer(data):
        yield base64.b64decode(b"".join(match.group("body").split()))


def _element(data: bytes, at: int) -> tuple[int, int, int]:
    """The DER element at *at*: its tag, where its content starts, and where it ends."""
    if at + 2 > len(data):
        raise ValueError("truncated")
    tag, length = data[at], data[at + 1]
    start = at + 2
    if length & 0x80:
        size = length & 0x7F
        if not 0 < size <= 4 or start + size > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[start : start + size], "big")
        start += size
    if start + length > len(data):
        raise ValueError("truncated")
    return tag, start, start + length


def not_after(der: bytes) -> float:
    """Epoch seconds of the end of a DER certificate's validity (RFC 5280, 4.1.2.5): read
    with a minimal DER walk, so that no cryptography package is needed."""
    _, certificate, _ = _element(der, 0)  # Certificate ::= SEQUENCE
    tag, position, end = _element(der, certificate)  # tbsCertificate ::= SEQUENCE
    if tag != 0x30:
        raise ValueError("not a certificate")
    fields: list[tuple[int, int, int]] = []
    while position < end and len(fields) < 5:
        tag, start, stop = _element(der, position)
        fields.append((tag, start, stop))
        position = stop
    if fields and fields[0][0] == 0xA0:  # [0] version: present from v2
        fields.pop(0)
    if len(fields) < 4 or fields[3][0] != 0x30:
        raise ValueError("no validity")
    validity = fields[3][1]  # after serial, signature and issuer
    _, _, after = _element(der, validity)  # notBefore
    tag, start, stop = _element(der, after)  # notAfter
    text = der[start:stop].decode("ascii")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ: 50-99 is 19xx
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != 0x18:  # GeneralizedTime YYYYMMDDHHMMSSZ
        raise ValueError("bad time")
    moment = datetime.datetime.strptime(text, "%Y%m%d%H%M%SZ")
    return moment.replace(tzinfo=datetime.timezone.utc).timestamp()
