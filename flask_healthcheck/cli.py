"""``flask healthcheck``: list the app's checks and run them in-process.

Flask finds the group through the ``flask.commands`` entry point, so every app with the
extension gets it::

    flask --app myapp healthcheck list
    flask --app myapp healthcheck run [NAME ...] [--tag TAG] [--format text|json|health+json|nagios]
    flask --app myapp healthcheck k8s [--port 8000] [--worker]
    flask --app myapp healthcheck lint FILE... [--strict] [--format text|json]

``run`` exits 0 when every critical check passes and 1 otherwise; with ``--format nagios`` it
exits as a Nagios plugin does (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). A usage error, such as
an unknown check name, exits 2 (3, UNKNOWN, with ``--format nagios``). So does an app that
cannot be loaded: with ``--format nagios`` that is one UNKNOWN line naming the kind of failure,
with Flask's message or the traceback, masked, on the standard error.

``lint`` exits 0 when the files agree with the app, 1 when it found a problem (a warning only
with ``--strict``; a note, such as a file with no probe, never), and 2 when a file cannot be
read or is not YAML (the other files are still checked and reported), or PyYAML is missing.
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import NoAppException, ScriptInfo, with_appcontext

from . import __version__
from .exceptions import LintError, MissingDependencyError, UnknownCheckError
from .extension import EXTENSION_KEY, HealthCheck
from .formats import FORMATS
from .kubernetes import to_yaml, web_probes, worker_probes
from .lint import Finding, lint_file, require_yaml
from .nagios import PluginStatus, from_report, unknown
from .redact import mask_credentials
from .state import AppState

NAGIOS = "nagios"


class _NagiosUsageError(click.UsageError):
    """A usage error reported as a Nagios plugin reports it: one UNKNOWN line, exit 3."""

    exit_code = int(PluginStatus.UNKNOWN)

    def show(self, file: object = None) -> None:
        click.echo(unknown(self.message).text)


def _extension(app: Flask) -> HealthCheck:
    health = app.extensions.get(EXTENSION_KEY)
    if not isinstance(health, HealthCheck):
        raise click.UsageError(
            f"the app {app.name!r} has no HealthCheck; create one with HealthCheck(app) or "
            "call health.init_app(app) in the app factory"
        )
    return health


def _seconds(value: float) -> str:
    return f"{value:g}s"


#: The kinds of Flask's NoAppException, by the start of its message; any other is the last.
_NO_APP_KINDS = (
    ("While importing", "its module raised ImportError"),
    ("Could not import", "its module was not found"),
    ("Could not locate", "no app given (--app, FLASK_APP, wsgi.py or app.py)"),
    ("", "Flask found no app in its module"),
)


def _load_failure(exc: BaseException) -> str:
    """What kind of failure kept the app from loading, in words safe for a Nagios line."""
    if isinstance(exc, NoAppException):
        return next(kind for start, kind in _NO_APP_KINDS if exc.message.startswith(start))
    return f"its code raised {type(exc).__name__}"


def _load_app(nagios: bool) -> Flask:
    """The app, loaded and with its context pushed, as :func:`flask.cli.with_appcontext` does.

    With *nagios*, an app that cannot be loaded (an import error, no app found, a factory
    that raises) is a usage error that prints one UNKNOWN line and exits 3: a plugin that
    printed nothing and exited 1 or 2 would read as WARNING or CRITICAL with no text.
    """
    if current_app:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        return app
    context = click.get_current_context()
    info = context.ensure_object(ScriptInfo)
    if not nagios:
        app = info.load_app()
    else:
        try:
            app = info.load_app()
        except (Exception, SystemExit) as exc:
            details = (
                exc.message
                if isinstance(exc, NoAppException)
                else "".join(traceback.format_exception(exc))
            )
            click.echo(f"cannot load the app: {mask_credentials(details).rstrip()}", err=True)
            raise _NagiosUsageError(f"cannot load the app: {_load_failure(exc)}") from None
    context.with_resource(app.app_context())
    return app


@click.group("healthcheck")
def healthcheck() -> None:
    """List and run the app's health checks."""


@healthcheck.command("list")
@with_appcontext
def list_checks() -> None:
    """List the registered checks with their tags, criticality and timeout."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    health = _extension(app)
    state: AppState = health.state(app)
    specs = list(state.registry)
    if not specs:
        click.echo("no checks registered")
        return
    rows = [("NAME", "TAGS", "CRITICAL", "TIMEOUT")]
    rows += [
        (
            spec.name,
            ",".join(sorted(spec.tags)),
            "yes" if spec.critical else "no",
            _seconds(state.timeout_of(spec)),
        )
        for spec in specs
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[3]]))


@healthcheck.command("k8s")
@click.option(
    "--port",
    default="8000",
    show_default=True,
    help="The container's port, a number or its name (the probe port wins when set).",
)
@click.option("--worker", is_flag=True, help="Also the exec probes of a Celery worker.")
@with_appcontext
def k8s(port: str, worker: bool) -> None:
    """Print Kubernetes probes that agree with the app's settings (deadline, probe port,
    drain), to paste under a container of a Deployment."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = _extension(app).state(app).settings
    target: int | str = int(port) if port.isdigit() else port
    version = __version__
    click.echo(
        f"# The web container's probes (flask_healthcheck {version}): timeouts longer than\n"
        f"# HEALTHCHECK_DEADLINE ({settings.deadline:g} s), paths under {settings.path}."
    )
    click.echo(to_yaml(web_probes(settings, target)))
    if worker:
        click.echo("# The Celery worker container's probes (its probe files, see the docs).")
        click.echo(to_yaml(worker_probes()))


@healthcheck.command("lint")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Warnings fail too.")
@click.option(
    "--format",
    "format_name",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one document with every finding, for CI tools.",
)
@with_appcontext
def lint(files: tuple[Path, ...], strict: bool, format_name: str) -> None:
    """Check the probes of Kubernetes manifests or compose FILES against the app: timeouts
    against its deadline, liveness against dependency checks, the startup probe, the grace
    period against the drain, and paths against its routes.

    Prints FILE:LINE: SEVERITY: RULE: MESSAGE for each problem. Exits 0 when there is none, 1
    when there is one (a warning only with --strict), 2 when a file cannot be read or is not
    YAML, or PyYAML is not installed.
    """
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    _extension(app)
    context = click.get_current_context()
    try:
        require_yaml()
    except MissingDependencyError as exc:
        click.echo(f"error: {exc}", err=True)
        context.exit(2)
    findings: list[Finding] = []
    unreadable: list[str] = []
    for path in files:
        try:
            findings += lint_file(path, app)
        except LintError as exc:
            unreadable.append(str(exc))
    errors = sum(finding.severity == "error" for finding in findings)
    warnings = sum(finding.severity == "warning" for finding in findings)
    notes = len(findings) - errors - warnings
    if format_name == "json":
        document = {
            "files": len(files),
            "errors": errors,
            "warnings": warnings,
            "notes": notes,
            "findings": [finding.as_json() for finding in findings],
            "unreadable": unreadable,
        }
        click.echo(json.dumps(document, indent=2))
    else:
        for finding in findings:
            click.echo(str(finding))
    for problem in unreadable:
        click.echo(f"error: {problem}", err=True)
    summary = (
        f"{_count(len(files), 'file')}: {_count(errors, 'error')}, {_count(warnings, 'warning')}"
    )
    if notes:
        summary += f", {_count(notes, 'note')}"
    if unreadable:
        summary += f"; {_count(len(unreadable), 'file')} not read"
    click.echo(summary, err=True)
    if unreadable:
        context.exit(2)
    context.exit(1 if errors or (strict and warnings) else 0)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


@healthcheck.command("run")
@click.argument("names", nargs=-1)
@click.option("--tag", help="Run the checks with this tag (such as live or ready).")
@click.option(
    "--format",
    "format_name",
    type=click.Choice([*FORMATS, NAGIOS]),
    default="text",
    show_default=True,
    help="How to print the report; nagios also exits as a Nagios plugin.",
)
@click.option(
    "--details",
    is_flag=True,
    help="Show what public answers withhold, such as the text of a check's exception.",
)
def run_checks(names: tuple[str, ...], tag: str | None, format_name: str, details: bool) -> None:
    """Run the checks (all, or NAMES, or those tagged TAG) and print the report.

    Exits 0 when every critical check passes, 1 when one fails.
    """
    usage_error = _NagiosUsageError if format_name == NAGIOS else click.UsageError
    if names and tag is not None:
        raise usage_error("give check names or --tag, not both")
    app = _load_app(nagios=format_name == NAGIOS)
    try:
        health = _extension(app)
        registry = health.state(app).registry
        if tag is not None and not registry.has_tag(tag):
            known = sorted({name for spec in registry for name in spec.tags})
            raise click.UsageError(
                f"no check has the tag {tag!r}; the tags are: {', '.join(known) or 'none'}"
            )
        report = health.run(names or None, tag=tag, app=app)
    except click.UsageError as exc:
        raise usage_error(exc.message) from None
    except UnknownCheckError as exc:
        raise usage_error(str(exc)) from None
    if format_name == NAGIOS:
        status, text = from_report(report, show_details=details)
        click.echo(text)
        click.get_current_context().exit(int(status))
    click.echo(FORMATS[format_name].render(report, details).rstrip("\n"))
    click.get_current_context().exit(0 if report.passed else 1)
