"""Masking of credentials in any text the library shows or logs.

:func:`mask_credentials` runs on every check's output, every detail, every logged traceback and
every Sentry event, so it recognises a secret by its syntax and by the name it is given, in the
forms that end up in error messages:

- the password of a URL, ``scheme://user:***@host``, and of a URL without its scheme,
  ``user:***@host:5432``;
- the value of a parameter whose name says it is secret (below), in every syntax: a query string
  (``?access_token=***&page=2``), a libpq or ODBC connection string (``host=db password=***``,
  ``Server=db;Pwd=***;``), an environment line (``DATABASE_PASSWORD=***``), a header line
  (``Authorization: Bearer ***``), YAML (``password: ***``), a Python or JSON mapping
  (``{'password': '***'}``, ``{"api_key": "***"}``) or keyword arguments (``token='***'``).

A name is secret when it contains ``token``, ``secret``, ``passw`` (password, passwd),
``passphrase``, ``pwd``, ``credential`` or ``signature`` anywhere, or when its last word is
``key``, ``apikey``, ``privatekey``, ``auth``, ``authorization``, ``pass``, ``pw``, ``sig``,
``cookie``, ``session`` or ``sessionid``. Words are split at non-letters and at camel case, so
``api_key``, ``X-Api-Key``, ``apiKey``, ``AWS_SECRET_ACCESS_KEY``, ``client_secret`` and
``Proxy-Authorization`` are secret, while ``monkey``, ``keys``, ``keyspace``, ``key_id``,
``AccessKeyId``, ``authSource`` and ``sslmode`` are not: the short words are matched only whole,
so ordinary parameters stay readable.

A value ends where its syntax ends it: a quoted value at its closing quote, any other value at
whitespace, a quote, ``&``, ``;``, ``<`` or ``>``; a ``,``, ``.``, ``)``, ``]`` or ``}`` that
ends it before whitespace is read as the punctuation around it. User names, hosts, ports and the
other parameters stay as they are. ``=`` must follow the name directly (``password=x``, as in
every syntax above), except before a quoted value (``password = 'x'``), so a line of code such
as ``token = get_token()`` in a traceback stays readable. A bare token with no name (``Bearer
abc`` alone) cannot be told from prose and is left alone.

The regular expressions avoid nested repetition and emulate atomic groups with a lookahead and a
backreference (the ``(?=(?P<x>...))(?P=x)`` idiom, as Python 3.10 has no possessive
quantifiers), so the time they take grows linearly with the text, whatever it holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MASK = "***"

# A token of text that holds an "@", from its start (whitespace, a quote or <> delimit tokens).
_TOKEN_WITH_AT = re.compile(r"(?<![^\s'\"<>])(?=(?P<head>[^\s'\"<>@]*))(?P=head)@[^\s'\"<>]*")
# scheme://user: -- in a token, searched up to its last "@"; the password runs from the colon
# to that "@", as a password put into a URL unencoded may itself contain "@" or "/".
_URL_USER = re.compile(r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]*://[^:/@]*:")
# user: of a URL without its scheme (user:pw@host:5432); mailto:someone@host is an address.
_BARE_USER = re.compile(r"(?<![\w.%+~\-])(?!(?i:mailto):)[\w.%+~\-]+:")

_NAME_CHARACTER = r"[A-Za-z0-9_.\-]"
_ANYWHERE = ("token", "secret", "passw", "passphrase", "pwd", "credential", "signature")
_LAST_WORDS = (
    "authorization",
    "privatekey",
    "sessionid",
    "session",
    "cookie",
    "apikey",
    "auth",
    "pass",
    "key",
    "sig",
    "pw",
)
# The last word of a name: after a non-letter in any case ("API_KEY", "x-api-key"), or
# capitalised after a letter ("apiKey", "APIKey"); only digits and separators may follow it.
_LAST_WORD = (
    rf"(?:(?<![A-Za-z])(?i:{'|'.join(_LAST_WORDS)})"
    rf"|(?<=[A-Za-z])(?:{'|'.join(word.capitalize() for word in _LAST_WORDS)}))"
    rf"(?![A-Za-z])[0-9_.\-]*(?!{_NAME_CHARACTER})"
)
_SECRET_PARAMETER = re.compile(
    rf"""
    (?<!{_NAME_CHARACTER})
    (?={_NAME_CHARACTER}*?(?:(?i:{"|".join(_ANYWHERE)})|{_LAST_WORD}))
    (?=(?P<name>{_NAME_CHARACTER}+))(?P=name)
    (?P<separator>['"\]]?(?:=|(?P<spaced>[ \t]+=[ \t]*)|[ \t]*(?::|=>)[ \t]*))
    (?P<scheme>(?i:basic|bearer|digest|token|negotiate|ntlm|jwt)[ \t]+)?
    (?:
        (?P<prefix>[bBrRuU]?)(?P<quote>['"])(?P<quoted>(?:\\.|(?!(?P=quote))[^\\\n])*)(?P=quote)
      | (?(spaced)(?!))(?!\*\*\*@)  # not after "=" with spaces; not a masked "user:***@host"
        (?P<open>['"]?)(?P<bare>[^\s'"&;<>]+(?=[&;'"<>])|[^\s'"&;<>]*[^\s'"&;<>,.)\]}}])
    )
    """,
    re.VERBOSE,
)


def _mask_userinfo(match: re.Match[str]) -> str:
    token = match.group()
    at = token.rindex("@")
    user = _URL_USER.search(token, 0, at)
    if user is None:
        user = _BARE_USER.search(token, 0, at)
        if user is None or "/" in token[user.end() : at]:
            return token
    if user.end() == at:  # no password: "redis://:@host"
        return token
    return f"{token[: user.end()]}{MASK}{token[at:]}"


def _mask_parameter(match: re.Match[str]) -> str:
    if match["quote"] is not None and not match["quoted"]:
        return match.group()  # an empty value hides nothing
    opening = match["quote"] or match["open"] or ""
    return (
        f"{match['name']}{match['separator']}{match['scheme'] or ''}{match['prefix'] or ''}"
        f"{opening}{MASK}{match['quote'] or ''}"
    )


def mask_credentials(text: str) -> str:
    """Return *text* with the passwords and secret parameters it holds replaced by ``***``.

    The passwords of URLs (``postgresql://app:***@db/prod``, ``app:***@db:5432``) and the values
    of parameters with secret names in every syntax (``?access_token=***``, ``password=***``,
    ``Authorization: Bearer ***``, ``{'password': '***'}``); user names, hosts and other
    parameters stay readable. A text without ``=``, ``:`` or ``@`` holds none of them and is
    returned as it is, at once.
    """
    has_at = "@" in text
    if not has_at and "=" not in text and ":" not in text:
        return text
    if has_at:
        text = _TOKEN_WITH_AT.sub(_mask_userinfo, text)
    return _SECRET_PARAMETER.sub(_mask_parameter, text)


_SECRET_NAME = re.compile(rf"(?i:{'|'.join(_ANYWHERE)})|{_LAST_WORD}")


def is_secret_name(name: str) -> bool:
    """True when *name* (a parameter, a mapping's key, a config key) says its value is secret,
    by the rule :func:`mask_credentials` follows: ``SECRET_KEY``, ``MAIL_PASSWORD``,
    ``apiKey`` are; ``SESSION_COOKIE_NAME``, ``key_id`` are not."""
    return _SECRET_NAME.search(name) is not None


def mask_structure(value: object) -> object:
    """A copy of *value*, a structure of mappings and sequences, with its secrets masked.

    The value of a key whose name is secret (:func:`is_secret_name`) becomes ``***`` (unless it
    is empty or None, which hide nothing); every other string, key or value, goes through
    :func:`mask_credentials`. Mappings become dicts, tuples and lists become lists; numbers,
    booleans and None stay as they are, and so does anything else.
    """
    if isinstance(value, str):
        return mask_credentials(value)
    if isinstance(value, Mapping):
        masked: dict[object, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                masked[key] = mask_structure(item)
            elif is_secret_name(key) and item is not None and item != "":
                masked[mask_credentials(key)] = MASK
            else:
                masked[mask_credentials(key)] = mask_structure(item)
        return masked
    if isinstance(value, list | tuple):
        return [mask_structure(item) for item in value]
    return value
