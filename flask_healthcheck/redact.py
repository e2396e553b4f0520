"""Masking of credentials in any text the library shows or logs."""

from __future__ import annotations

import re

MASK = "***"

# scheme://user:password@host -> scheme://user:***@host (the user part may be empty, as in
# redis://:secret@host). The password runs to the last "@" before a space or quote: a password
# put into a URL unencoded may itself contain "@" or "/", and masking too much is harmless.
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@'\"<>]*):(?P<secret>[^\s'\"<>]+)@"
)
# ?password=secret, &token=secret, ;api_key=secret and the like inside URLs and DSNs.
_SECRET_PARAMETER = re.compile(
    r"(?P<head>[?&;\s](?:password|passwd|pwd|secret|token|api_?key|access_?key)=)(?P<secret>[^&;\s]+)",
    re.IGNORECASE,
)


def mask_credentials(text: str) -> str:
    """Return *text* with passwords in URLs and secret query parameters replaced by ``***``."""
    if "=" not in text and "@" not in text:
        return text
    text = _URL_PASSWORD.sub(rf"\g<head>:{MASK}@", text)
    return _SECRET_PARAMETER.sub(rf"\g<head>{MASK}", text)
