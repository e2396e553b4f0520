"""``flask-healthcheck probe URL`` and ``flask-healthcheck nagios URL``: ask an endpoint over HTTP.

For exec probes of containers without curl, and for Nagios. It imports neither Flask nor the
app, nor ``http.client``/``urllib.request``: a probe's cold start should cost little more than
the interpreter's own. It speaks HTTP/1.0 over a socket (so no server answers in chunks), with
one overall deadline. Both commands parse their options with :mod:`argparse`.

``probe`` exits ``0`` on a 2xx answer and ``1`` otherwise (a usage error too), with a one-line
reason on stderr. ``nagios`` follows the Monitoring Plugins guidelines: ``0`` OK, ``1`` WARNING
(only non-critical checks fail, or the answer took longer than ``-w``), ``2`` CRITICAL, ``3``
UNKNOWN (unreachable, timed out, not a report, or a usage error); it takes ``check_http``'s
``-H``, ``-p``, ``-u``, ``-S``, ``-t``, ``-w``, ``-c`` and ``-V`` as well as a URL.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from . import __version__
from .arguments import Parser, UsageError, seconds
from .exceptions import HealthCheckError

#: Bytes read of an answer at most; a health report is far smaller.
MAX_ANSWER = 4 * 1024 * 1024
DEFAULT_TIMEOUT = 3.0


class ProbeError(HealthCheckError):
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


# -- command line ----------------------------------------------------------------------------
#
# argparse costs about 1.5 ms of a probe's cold start (python -X importtime), which the json
# module, now imported by nagios only, pays back (see flask_healthcheck.arguments).

#: The path ``nagios -H HOST`` asks when no ``-u`` is given: the extension's default path.
DEFAULT_PATH = "/healthz"


def _token(text: str) -> str:
    if not text or any(character in text for character in "\r\n"):
        raise argparse.ArgumentTypeError("needs a token of one line")
    return text


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return int(text)


def _hostname(text: str) -> str:
    if not text or any(character.isspace() or character in "/?#@" for character in text):
        raise argparse.ArgumentTypeError(f"not a host name or address: {text!r}")
    return text


def _add_request_options(parser: argparse.ArgumentParser, *, timeout_flags: Sequence[str]) -> None:
    parser.add_argument(
        *timeout_flags,
        dest="timeout",
        type=seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"give up after this long, connecting included (default: {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--token",
        type=_token,
        help="send 'Authorization: Bearer TOKEN', the app's HEALTHCHECK_TOKEN, for full details",
    )


def _probe_parser() -> Parser:
    parser = Parser(
        prog="flask-healthcheck probe",
        description=(
            "Ask an HTTP endpoint, for an exec probe. Exit 0 when it answers 2xx, 1 otherwise "
            "(with one line on stderr saying why), 1 on a usage error too."
        ),
    )
    parser.add_argument(
        "url", metavar="URL", help="the endpoint, such as http://127.0.0.1:8000/healthz/live"
    )
    _add_request_options(parser, timeout_flags=["--timeout"])
    return parser


def _nagios_parser() -> Parser:
    parser = Parser(
        prog="flask-healthcheck nagios",
        description=(
            "A Nagios plugin: read the JSON report of an endpoint and print one status line with "
            "performance data. Give the URL, or the host with -H (and -p, -u, -S) as for "
            "check_http. Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (unreachable, timed out, "
            "not a report, or a usage error)."
        ),
    )
    parser.add_argument("-V", "--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "url", nargs="?", metavar="URL", help="the endpoint, such as http://app:8000/healthz"
    )
    where = parser.add_argument_group("the endpoint as check_http takes it (instead of URL)")
    where.add_argument("-H", "--hostname", type=_hostname, help="the host name or address")
    where.add_argument("-p", "--port", type=_port, help="the port (default: 80, or 443 with -S)")
    where.add_argument(
        "-u",
        "--url",
        dest="path",
        metavar="PATH",
        help=f"the path to ask (default: {DEFAULT_PATH})",
    )
    where.add_argument("-S", "--ssl", action="store_true", help="connect with https")
    _add_request_options(parser, timeout_flags=["-t", "--timeout"])
    parser.add_argument(
        "-w",
        "--warning",
        type=seconds,
        metavar="SECONDS",
        help="WARNING when the answer takes longer than this",
    )
    parser.add_argument(
        "-c",
        "--critical",
        type=seconds,
        metavar="SECONDS",
        help="CRITICAL when the answer takes longer than this",
    )
    return parser


def _endpoint(options: argparse.Namespace) -> str:
    """The URL ``nagios`` asks: its URL argument, or the one -H, -p, -u and -S describe."""
    with_host = [
        flag
        for flag, given in (("-p", options.port), ("-u", options.path), ("-S", options.ssl))
        if given
    ]
    if options.hostname is None:
        if options.url is None:
            raise UsageError("give the URL, or the host with -H")
        if with_host:
            raise UsageError(f"{', '.join(with_host)} cannot go with a URL, only with -H")
        return str(options.url)
    if options.url is not None:
        raise UsageError("give the URL or -H, not both")
    host = options.hostname
    if host.count(":") > 1 and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    port = f":{options.port}" if options.port else ""
    path = options.path or DEFAULT_PATH
    if not path.startswith("/"):
        path = f"/{path}"
    return f"{'https' if options.ssl else 'http'}://{host}{port}{path}"


def probe_main(argv: Sequence[str]) -> int:
    """``flask-healthcheck probe URL [--timeout 3] [--token T]``: exit 0 on a 2xx answer."""
    parser = _probe_parser()
    try:
        options = parser.parse(argv)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    if isinstance(options, int):
        return options
    url: str = options.url
    try:
        answer = fetch(url, options.timeout, token=options.token)
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
    """``flask-healthcheck nagios URL|-H HOST [...]``: a Monitoring Plugins plugin.

    It takes ``check_http``'s ``-H``, ``-p``, ``-u``, ``-S``, ``-t``, ``-w``, ``-c`` and ``-V``,
    so existing command definitions keep their options. With ``--token``, the endpoint's
    ``HEALTHCHECK_TOKEN``, the status line shows the full reason of a failure rather than its
    public output. A usage error is UNKNOWN, with its reason in the status line.
    """
    import json  # here, not at the top: probe needs neither, and starts faster without them

    from .nagios import PluginStatus, ResponseTime, from_json, unknown

    parser = _nagios_parser()
    try:
        options = parser.parse(argv)
        if isinstance(options, int):
            return options
        url = _endpoint(options)
        warning, critical = options.warning, options.critical
        if warning is not None and critical is not None and warning > critical:
            raise UsageError("the warning threshold (-w) is above the critical one (-c)")
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(unknown(f"usage error: {exc}").text)
        return PluginStatus.UNKNOWN
    try:
        answer = fetch(url, options.timeout, token=options.token)
        response_time = ResponseTime(answer.elapsed, options.warning, options.critical)
        output = from_json(json.loads(answer.body), response_time=response_time)
    except ProbeError as exc:
        output = unknown(str(exc))
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        output = unknown(f"the answer ({answer.status} {answer.reason}) is not JSON")
    print(output.text)
    return int(output.status)
