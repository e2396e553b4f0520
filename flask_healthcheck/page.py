"""The HTML status page: a report for people, served to browsers and for ``?format=html``.

One self-contained page: the overall state in a coloured banner, then one card per check (failing
ones first) with its status, output, duration, the time since it last changed and, from its
history (:mod:`~flask_healthcheck.history`), a sparkline of its recent runs, its flaps and how
long it took to recover. It needs no
JavaScript, loads nothing else (its Content-Security-Policy forbids it), fits a phone's screen,
and escapes every name and output, since both come from the application's code and its errors.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from html import escape
from typing import Any

from .history import flaps, recoveries
from .results import CheckResult, Report, Sample, Status

_HEADLINES = {Status.PASS: "Passing", Status.WARN: "Degraded", Status.FAIL: "Failing"}


_STYLE = """
:root{--pass:#1a7f37;--warn:#9a6700;--fail:#cf222e;--ink:#1f2328;--muted:#59636e;
--card:#fff;--page:#f6f8fa;--line:#d1d9e0}
@media (prefers-color-scheme:dark){:root{--pass:#3fb950;--warn:#d29922;--fail:#f85149;
--ink:#e6edf3;--muted:#9198a1;--card:#151b23;--page:#0d1117;--line:#3d444d}}
*{box-sizing:border-box}
body{margin:0;background:var(--page);color:var(--ink);line-height:1.45;
font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
.banner{color:#fff;padding:1.25rem 1rem}
.banner.pass{background:var(--pass)}.banner.warn{background:var(--warn)}
.banner.fail{background:var(--fail)}
.banner h1{margin:0 auto;max-width:46rem;font-size:2.25rem;line-height:1.1}
.banner p{margin:.4rem auto 0;max-width:46rem;font-size:1.05rem;overflow-wrap:anywhere}
main{max-width:48rem;margin:0 auto;padding:1rem}
.meta{color:var(--muted);margin:0 0 1rem;overflow-wrap:anywhere}
ul{list-style:none;margin:0;padding:0}
.check{background:var(--card);border:1px solid var(--line);border-left:.4rem solid var(--pass);
border-radius:.5rem;padding:.75rem 1rem;margin:0 0 .75rem}
.check.warn{border-left-color:var(--warn)}.check.fail{border-left-color:var(--fail)}
.check h2{display:inline;font-size:1.15rem;margin:0;overflow-wrap:anywhere}
.badge{display:inline-block;min-width:3.2rem;text-align:center;border-radius:1rem;color:#fff;
font-size:.8rem;font-weight:700;text-transform:uppercase;padding:.1rem .5rem;margin-right:.4rem;
vertical-align:.15rem;background:var(--pass)}
.warn .badge{background:var(--warn)}.fail .badge{background:var(--fail)}
.note{color:var(--muted);font-size:.85rem;margin-left:.3rem}
.output{margin:.5rem 0;white-space:pre-wrap;overflow-wrap:anywhere;
font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9rem}
dl{display:flex;flex-wrap:wrap;gap:.2rem 1.25rem;margin:0;color:var(--muted);font-size:.9rem}
dl div{display:flex;gap:.35rem}dt{font-weight:600}dd{margin:0}
.empty{color:var(--muted)}
.spark{display:block;width:100%;height:2.25rem;margin:.5rem 0 .2rem}
.spark .s-pass{fill:var(--pass)}.spark .s-warn{fill:var(--warn)}.spark .s-fail{fill:var(--fail)}
.spark .s-none{fill:var(--line)}
footer{max-width:48rem;margin:0 auto;padding:0 1rem 2rem;color:var(--muted);font-size:.9rem}
footer a{color:inherit}
"""


def relative(seconds: float) -> str:
    """A duration as people say it: ``"42 s"``, ``"3 min"``, ``"5 h"``, ``"2 d"``."""
    seconds = max(0.0, seconds)
    if seconds < 1:
        return "under 1 s"
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def _urgency(result: CheckResult) -> int:
    """Sort key: failing critical checks first, then other failures, warnings, passes."""
    if not result.passed:
        return 0 if result.critical else 1
    return 2 if result.warning else 3


def _duration(seconds: float) -> str:
    if seconds < 0.001:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def _observed(result: CheckResult) -> str:
    value = result.observed_value
    unit = f" {result.observed_unit}" if result.observed_unit else ""
    return f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"


def _summary(report: Report) -> str:
    total = len(report.results)
    if total == 0:
        return "No checks ran for this endpoint."
    failing = [result.name for result in report.results if not result.passed]
    if report.status is Status.PASS:
        return "The check passes." if total == 1 else f"All {total} checks pass."
    if failing:
        return f"{len(failing)} of {total} failing: {', '.join(failing)}"
    return f"Passing with warnings: {', '.join(report.warnings)}"


#: Runs a sparkline has room for at least, so that a short history is not drawn as wide bars.
SPARK_SLOTS = 30
_SPARK_HEIGHT = 32
_SPARK_LEAST = 4  # a run's bar is never shorter, however fast it was


def sparkline(samples: Sequence[Sample]) -> str:
    """The runs of a check as an inline SVG (no script, nothing loaded): one bar per run,
    oldest on the left, its colour the run's status and its height its duration against
    the slowest run shown."""
    slots = max(len(samples), SPARK_SLOTS)
    slowest = max((sample.duration for sample in samples), default=0.0) or 1.0
    failed = sum(1 for sample in samples if sample.failed)
    label = (
        f"last {len(samples)} runs: {failed} failed, slowest {_duration(slowest)}"
        if samples
        else "no run yet"
    )
    bars = []
    for index, sample in enumerate(samples, start=slots - len(samples)):
        height = _SPARK_LEAST + (_SPARK_HEIGHT - _SPARK_LEAST) * sample.duration / slowest
        bars.append(
            f'<rect class="s-{sample.status}" x="{index * 4}" y="{_SPARK_HEIGHT - height:.1f}" '
            f'width="3" height="{height:.1f}"/>'
        )
    if not samples:
        bars.append(
            f'<rect class="s-none" x="0" y="{_SPARK_HEIGHT - 1}" width="{slots * 4}" height="1"/>'
        )
    return (
        f'<svg class="spark" viewBox="0 0 {slots * 4} {_SPARK_HEIGHT}" '
        f'preserveAspectRatio="none" role="img" aria-label="{label}">'
        f"<title>{label}</title>{''.join(bars)}</svg>"
    )


def _history_facts(samples: Sequence[Sample]) -> list[tuple[str, str]]:
    found = recoveries(samples)
    facts = [("Runs passed", f"{sum(not sample.failed for sample in samples)} of {len(samples)}")]
    facts.append(("Flaps", str(flaps(samples))))
    if found:
        facts.append(("Last recovery", relative(found[-1])))
    return facts


def _card(
    result: CheckResult, now: float, show_details: bool, samples: Sequence[Sample] | None
) -> str:
    status = result.status.value
    facts = []
    if result.since is not None:
        state = "Passing for" if result.passed else "Failing for"
        facts.append((state, relative(now - result.since)))
    facts.append(("Took", _duration(result.response_time)))
    age = now - result.timestamp
    facts.append(("Checked", "just now" if age < 1 else f"{relative(age)} ago"))
    if result.observed_value is not None:
        facts.append(("Observed", _observed(result)))
    if samples:
        facts += _history_facts(samples)
    output = result.visible_output(show_details)
    return "".join(
        [
            f'<li class="check {status}"><span class="badge">{status}</span>',
            f"<h2>{escape(result.name)}</h2>",
            "" if result.critical else '<span class="note">non-critical</span>',
            f'<p class="output">{escape(output)}</p>' if output else "",
            "" if samples is None else sparkline(samples),
            "<dl>",
            *(f"<div><dt>{term}</dt><dd>{escape(value)}</dd></div>" for term, value in facts),
            "</dl></li>\n",
        ]
    )


def render_html(report: Report, show_details: bool) -> str:
    """The report as a page for people; withheld details stay withheld as in other formats."""
    status = report.status
    headline = _HEADLINES[status]
    place = f"{report.title} of {report.hostname}" if report.hostname else report.title
    when = datetime.datetime.fromtimestamp(report.timestamp, datetime.timezone.utc)
    results = sorted(report.results, key=_urgency)
    history = report.history
    cards = "".join(
        _card(
            result,
            report.timestamp,
            show_details,
            None if history is None else history.get(result.name),
        )
        for result in results
    )
    footer = (
        'Also as <a href="?format=json">JSON</a>, <a href="?format=health%2Bjson">health+json</a>'
        '\nor <a href="?format=text">text</a>.'
    )
    return _document(
        status=status,
        headline=headline,
        summary=_summary(report),
        place=place,
        when=when,
        cards=cards,
        footer=footer,
    )


def _document(
    *,
    status: Status,
    headline: str,
    summary: str,
    place: str,
    when: datetime.datetime,
    cards: str,
    footer: str,
) -> str:
    """A whole page: the banner, what and when, the *cards* and the *footer* (HTML)."""
    listing = f"<ul>\n{cards}</ul>" if cards else '<p class="empty">Nothing to show.</p>'
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{headline}: {escape(place)}</title>
<style>{_STYLE}</style>
</head>
<body>
<header class="banner {status.value}" role="status">
<h1>{headline}</h1>
<p>{escape(summary)}</p>
</header>
<main>
<p class="meta">{escape(place)}, {when:%Y-%m-%d %H:%M:%S} UTC</p>
{listing}
</main>
<footer>{footer}</footer>
</body>
</html>
"""


def _fleet_card(pod: dict[str, Any]) -> str:
    status = "fail" if pod["status"] == "fail" else "pass"
    if pod["stale"]:
        status = "warn"
    checks = ", ".join(
        f"{escape(name)} {'ok' if check['passed'] else escape(check['kind'])}"
        + (" (shared)" if check["shared"] else "")
        for name, check in pod["checks"].items()
    )
    note = '<span class="note">stale: gone from the fleet</span>' if pod["stale"] else ""
    return "".join(
        [
            f'<li class="check {status}"><span class="badge">{pod["status"]}</span>',
            f"<h2>{escape(pod['name'])}</h2>{note}",
            f'<p class="output">{checks or "no check yet"}</p>',
            f"<dl><div><dt>Published</dt><dd>{escape(relative(pod['age']))} ago</dd></div>",
            "</dl></li>\n",
        ]
    )


def render_fleet_html(document: dict[str, Any]) -> str:
    """The fleet view (``{path}/fleet``) as a page: one card per server, and the standing of
    each shared check across the fleet in the banner."""
    outages = [name for name, standing in document["shared"].items() if standing["outage"]]
    live = [pod for pod in document["pods"] if not pod["stale"]]
    failing = [pod["name"] for pod in live if pod["status"] == "fail"]
    if outages:
        status, headline = Status.WARN, "Fleet-wide outage"
        summary = "; ".join(
            f"{name}: failing on {document['shared'][name]['failing']} of "
            f"{document['shared'][name]['pods']} servers, every server stays ready"
            for name in outages
        )
    elif failing:
        status, headline = Status.FAIL, "Servers failing"
        summary = f"{len(failing)} of {len(live)} failing: {', '.join(failing)}"
    else:
        status, headline = Status.PASS, "Fleet passing"
        summary = f"All {len(live)} servers pass." if live else "No server has published yet."
    when = datetime.datetime.fromtimestamp(document["timestamp"], datetime.timezone.utc)
    cards = "".join(_fleet_card(pod) for pod in document["pods"])
    place = f"fleet {document['fleet']}, seen from {document['pod']}"
    return _document(
        status=status,
        headline=headline,
        summary=summary,
        place=place,
        when=when,
        cards=cards,
        footer='Also as <a href="?format=json">JSON</a>.',
    )
