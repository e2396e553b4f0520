"""Which flask_healthcheck a server runs: the working tree's, or the package at a git commit.

The multi-worker scenario compares the per-server shared result store with the in-process
cache it replaced. Under gunicorn the library always shares (``HEALTHCHECK_SHARED_DIR`` only
moves the directory; :func:`flask_healthcheck.shared.locate` finds one for every pre-fork
server), and it has no switch to turn the sharing off, so "off" is the package as it was
before the store: ``git archive`` of its ``flask_healthcheck/`` at that commit, unpacked in
the run's directory and put first on the server's ``sys.path``. Nothing in the repository or
its worktrees changes.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from bench.servers import ROOT

PACKAGE = "flask_healthcheck"
#: The last commit before the shared result store (the parent of 8fcba84, "One run per check
#: per TTL for the whole server"): the in-process cache every worker kept for itself.
BEFORE_SHARED_STORE = "0ce44114093e4995f1d4c1e0a528ddfb0e15c82d"
#: The module that holds the shared result store; a library without it caches per process.
STORE_MODULE = "store.py"


@dataclass(frozen=True)
class Library:
    """A flask_healthcheck package a server imports.

    ``directory`` holds the ``flask_healthcheck`` package and goes first on the server's
    ``sys.path``; None for the working tree's (the repository root).
    """

    ref: str | None
    commit: str
    directory: Path | None

    @property
    def package(self) -> Path:
        return (self.directory or ROOT) / PACKAGE

    @property
    def has_shared_store(self) -> bool:
        return (self.package / STORE_MODULE).exists()

    def describe(self) -> str:
        if self.ref is None:
            return f"the working tree (HEAD {self.commit[:10]})"
        if self.commit.startswith(self.ref.lower()):
            return f"commit {self.commit[:10]}"
        return f"{self.ref} ({self.commit[:10]})"

    def as_dict(self) -> dict[str, object]:
        return {
            "ref": self.ref,
            "commit": self.commit,
            "package": str(self.package),
            "has_shared_store": self.has_shared_store,
            "described": self.describe(),
        }


def _git(*arguments: str) -> bytes:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), *arguments], capture_output=True, check=True
        ).stdout
    except FileNotFoundError:
        raise SystemExit(
            "git is not installed: the benchmark needs it to check out a library"
        ) from None
    except subprocess.CalledProcessError as error:
        raise SystemExit(
            f"git {' '.join(arguments)} failed: {error.stderr.decode(errors='replace').strip()}"
        ) from None


def working_tree() -> Library:
    """The package of this checkout, as every other scenario runs it."""
    return Library(None, _git("rev-parse", "HEAD").decode().strip(), None)


def at_commit(ref: str, into: Path) -> Library:
    """The package as it was at *ref* (a commit, branch or tag), unpacked under *into*."""
    commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}").decode().strip()
    directory = into / f"library-{commit[:12]}"
    if not (directory / PACKAGE).is_dir():
        archive = _git("archive", "--format=tar", commit, PACKAGE)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(directory, filter="data")
            else:  # Python releases before the extraction filters; the archive is our own
                tar.extractall(directory)
    return Library(ref, commit, directory)


def resolve(ref: str | None, into: Path) -> Library:
    """The working tree's package for None, else the one at *ref*."""
    return working_tree() if ref is None else at_commit(ref, into)
