"""The docs as a reader sees them: built once, and the index and an integration page rendered
by headless Chromium, whose screenshots land in ``/tmp/docs-shots`` to be looked at."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from .wheels import ROOT

IN_CI = os.environ.get("CI") == "true"
SHOTS = Path("/tmp/docs-shots")
WIDTH, HEIGHT = 1280, 1000


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        message = "chromium is not installed (python3 dev.py installs it as root on Debian)"
        if IN_CI:
            pytest.fail(f"{message}, and under CI=true this test must not skip")
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML docs: those ``dev.py test`` has just built when they are newer than every
    source of the docs, else built here as it builds them (warnings are errors)."""
    built = ROOT / "docs" / "_build" / "html"
    sources = [
        path for path in (ROOT / "docs").rglob("*") if path.is_file() and "_build" not in path.parts
    ]
    index = built / "index.html"
    fresh = index.exists() and all(
        path.stat().st_mtime < index.stat().st_mtime for path in sources if path.is_file()
    )
    if fresh:
        return built
    out = tmp_path_factory.mktemp("docs")
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", "-d", str(out / "doctrees"),
         str(ROOT / "docs"), str(out / "html")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    return out / "html"


def screenshot(chromium: str, page: Path, into: Path) -> tuple[bytes, str]:
    """The PNG of *page* at a desktop width, and its DOM."""
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={into / 'profile'}", "--hide-scrollbars",
        f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={into / 'shot.png'}", "--dump-dom",
        page.as_uri(),
    ]  # fmt: skip
    browser = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert browser.returncode == 0, browser.stderr[-2000:]
    data = (into / "shot.png").read_bytes()
    SHOTS.mkdir(exist_ok=True)
    (SHOTS / f"{page.stem}.png").write_bytes(data)
    return data, browser.stdout


def colours(data: bytes) -> tuple[int, int, int]:
    """Width, height and how many distinct pixel values a PNG (8-bit RGB or RGBA) has."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    depth, kind = data[24], data[25]
    assert depth == 8
    assert kind in (2, 6)
    channels = 3 if kind == 2 else 4
    chunks, position = [], 8
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        if data[position + 4 : position + 8] == b"IDAT":
            chunks.append(data[position + 8 : position + 8 + length])
        position += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    stride = 1 + width * channels
    # Filtered rows: a sample of their bytes tells a blank page (one value) from a real one.
    seen = {raw[row * stride + 1 : (row + 1) * stride : 37] for row in range(0, height, 25)}
    return width, height, len(seen)


@pytest.mark.parametrize(
    ("page", "says"),
    [
        (
            "index.html",
            ["What is in the box", "How it compares", "flask-health-checks"],
        ),
        ("integrations/sqlalchemy.html", ["DatabaseCheck", "ModelCheck"]),
    ],
)
def test_a_docs_page_renders_in_headless_chromium(
    chromium: str, html: Path, tmp_path: Path, page: str, says: list[str]
) -> None:
    data, dom = screenshot(chromium, html / page, tmp_path)
    width, height, distinct = colours(data)
    assert (width, height) == (WIDTH, HEIGHT)
    assert distinct > 5, "the screenshot looks blank"
    for text in says:
        assert text in dom
    version = __import__("flask_healthcheck").__version__
    assert f"flask_healthcheck {version}" in dom  # the version is shown
