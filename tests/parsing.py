"""``ast.parse`` for the tests, proof against a CPython 3.11 fault.

On 3.11 the AST constructor's recursion counter can be upset by another thread building an
AST at the same moment (CPython gh-106905), and ``ast.parse`` then raises ``SystemError:
AST constructor recursion depth mismatch`` for perfectly good source. Tests that parse our
files run beside threads of earlier tests, so they parse again when that happens.
"""

from __future__ import annotations

import ast

ATTEMPTS = 5


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    for attempt in range(ATTEMPTS):
        try:
            return ast.parse(source, filename)
        except SystemError as exc:
            if "recursion depth mismatch" not in str(exc) or attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
