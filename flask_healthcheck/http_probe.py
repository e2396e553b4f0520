"""``flask-healthcheck probe URL`` and ``flask-healthcheck nagios URL``: ask an endpoint over HTTP.

For exec probes of containers without curl (seed 000's ``health-check --endpoint --timeout``)
and for Nagios. It imports neither Flask nor the app, nor ``http.client``/``urllib.request``: a
probe's cold start should cost little more than the interpreter's own. It speaks HTTP/1.0 over
a socket (so no server answers in chunks), with one overall deadline.

``probe`` exits ``0`` on a 2xx answer and ``1`` otherwise, with a one-line reason on stderr.
``nagios`` follows the Monitoring Plugins guidelines: ``0`` OK, ``1`` WARNING (only non-critical
checks fail), ``2`` CRITICAL, ``3`` UNKNOWN (unreachable, timed out, or not a report).
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

#: Bytes read of an answer at most; a health report is far smaller.
MAX_ANSWER = 4 * 1024 * 1024
DEFAULT_TIMEOUT = 3.0


class ProbeError(Exception):
    """The endpoint could not be asked: a bad URL, a refused connection, a timeout."""


class Answer:
    def __init__(self, status: int, reason: str, body: bytes, elapsed: float) -> None:
        self.status = status
        self.reason = reason
        self.body = body
        self.elapsed = elapsed


def fetch(
    url: str, timeout: float, accept: str = "application/json", token: str | None = None
) -> Answer:
    """GET *url* within *timeout* seconds; raises :class:`ProbeError` saying what went wrong.

    With *token*, the request carries ``Authorization: Bearer <token>``, which lets an endpoint
    with ``HEALTHCHECK_TOKEN`` show full details.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProbeError(f"not an http:// or https:// URL: {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ProbeError(f"bad port in {url!r}") from None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = parts.netloc.rpartition("@")[2]
    started = time.monotonic()
    deadline = started + timeout
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout) as raw:
            connection = raw
            if parts.scheme == "https":
                import ssl

                context = ssl.create_default_context()
                connection = context.wrap_socket(raw, server_hostname=parts.hostname)
            authorization = f"Authorization: Bearer {token}\r\n" if token else ""
            request = (
                f"GET {target} HTTP/1.0\r\nHost: {host_header}\r\nAccept: {accept}\r\n"
                f"{authorization}User-Agent: flask-healthcheck-probe\r\n"
                "Connection: close\r\n\r\n"
            )
            connection.sendall(request.encode("latin-1"))
            data = _read_all(connection, deadline)
    except TimeoutError:
        raise ProbeError(
            f"no answer from {_where(parts.hostname, port)} within {timeout:g} s"
        ) from None
    except ConnectionRefusedError:
        raise ProbeError(f"connection refused by {_where(parts.hostname, port)}") from None
    except socket.gaierror:
        raise ProbeError(f"cannot resolve the host name {parts.hostname!r}") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ProbeError(f"cannot reach {_where(parts.hostname, port)}: {reason}") from None
    head, _, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or not code.isdigit():
        raise ProbeError(f"not an HTTP answer from {_where(parts.hostname, port)}")
    return Answer(int(code), reason.strip(), body, time.monotonic() - started)


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _read_all(connection: socket.socket, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < MAX_ANSWER:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        connection.settimeout(remaining)
        chunk = connection.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class _Arguments:
    def __init__(self, url: str, timeout: float, token: str | None) -> None:
        self.url = url
        self.timeout = timeout
        self.token = token


def _arguments(command: str, argv: Sequence[str], usage_code: int) -> _Arguments | int:
    """``URL [--timeout SECONDS] [--token TOKEN]``; the exit code *usage_code* on a usage error."""
    usage = f"usage: flask-healthcheck {command} URL [--timeout SECONDS] [--token TOKEN]"
    url: str | None = None
    timeout = DEFAULT_TIMEOUT
    token: str | None = None
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            print(f"{usage}\n\n{__doc__}")
            return 0
        option, _, inline = arg.partition("=")
        if option in ("--timeout", "--token"):
            value = inline if "=" in arg else (args.pop(0) if args else "")
            if option == "--token":
                if not value or any(character in value for character in "\r\n"):
                    print(f"{usage}\nerror: --token needs a token", file=sys.stderr)
                    return usage_code
                token = value
                continue
            try:
                timeout = float(value)
            except ValueError:
                timeout = -1.0
            if not 0 < timeout < float("inf"):
                print(f"{usage}\nerror: --timeout needs seconds above zero", file=sys.stderr)
                return usage_code
        elif url is None and not arg.startswith("-"):
            url = arg
        else:
            print(f"{usage}\nerror: unexpected argument {arg!r}", file=sys.stderr)
            return usage_code
    if url is None:
        print(f"{usage}\nerror: the URL is missing", file=sys.stderr)
        return usage_code
    return _Arguments(url, timeout, token)


def probe_main(argv: Sequence[str]) -> int:
    """``flask-healthcheck probe URL [--timeout 3]``: exit 0 on a 2xx answer, 1 otherwise."""
    parsed = _arguments("probe", argv, usage_code=1)
    if isinstance(parsed, int):
        return parsed
    url = parsed.url
    try:
        answer = fetch(url, parsed.timeout, token=parsed.token)
    except ProbeError as exc:
        print(f"flask-healthcheck probe: {exc}", file=sys.stderr)
        return 1
    summary = f"{url} answered {answer.status} {answer.reason} in {answer.elapsed * 1000:.1f} ms"
    if 200 <= answer.status < 300:
        print(summary)
        return 0
    print(f"flask-healthcheck probe: {summary}", file=sys.stderr)
    return 1


def nagios_main(argv: Sequence[str]) -> int:
    """``flask-healthcheck nagios URL [--timeout 3] [--token T]``: a Monitoring Plugins plugin.

    With ``--token``, the endpoint's ``HEALTHCHECK_TOKEN``, the status line shows the full
    reason of a failure rather than its public output.
    """
    from .nagios import PluginStatus, from_json, unknown

    parsed = _arguments("nagios", argv, usage_code=PluginStatus.UNKNOWN)
    if isinstance(parsed, int):
        return parsed
    try:
        answer = fetch(parsed.url, parsed.timeout, token=parsed.token)
        output = from_json(json.loads(answer.body))
    except ProbeError as exc:
        output = unknown(str(exc))
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        output = unknown(f"the answer ({answer.status} {answer.reason}) is not JSON")
    print(output.text)
    return int(output.status)
