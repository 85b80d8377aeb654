"""Who may ask `factdesk serve`: bearer tokens (FACTDESK_API_TOKENS), each good for every desk or
for the desks it names; and where the server may listen without them (loopback only).

    FACTDESK_API_TOKENS="k3Qm...long-random..., p9Xw...another...=energy+politics"

Tokens are secrets: they are compared in constant time, every one of them on every request (so
the time taken says nothing about which came close), and never printed or logged.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import SecretStr

from factdesk.errors import ConfigError

MIN_TOKEN_CHARS = 16
VARIABLE = "FACTDESK_API_TOKENS"


@dataclass(frozen=True)
class Grant:
    """What a request may do: ask every desk (`desks` None) or only the desks named."""

    desks: frozenset[str] | None = None

    def allows(self, desk: str) -> bool:
        return self.desks is None or desk in self.desks


EVERY_DESK = Grant()


class AccessDenied(Exception):
    """No token, or not one the server accepts (the message never repeats what was sent)."""


@dataclass(frozen=True)
class Tokens:
    """The tokens the server accepts, each with its grant; none: every request may ask."""

    entries: tuple[tuple[bytes, Grant], ...] = ()

    @property
    def required(self) -> bool:
        return bool(self.entries)

    @property
    def secrets(self) -> list[str]:
        """The tokens themselves, for the log filter that removes them."""
        return [token.decode() for token, _ in self.entries]

    def grant(self, authorization: str | None) -> Grant:
        """The grant of the token in an `Authorization: Bearer ...` header; AccessDenied when
        tokens are required and it is missing or wrong."""
        if not self.entries:
            return EVERY_DESK
        scheme, _, given = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise AccessDenied(
                f"This server wants a bearer token: send `Authorization: Bearer TOKEN`, TOKEN "
                f"one of {VARIABLE}."
            )
        sent = given.strip().encode("utf-8")
        found = None
        for token, grant in self.entries:
            if hmac.compare_digest(sent, token) and found is None:
                found = grant
        if found is None:
            raise AccessDenied(f"The bearer token is not one of {VARIABLE}.")
        return found


def parse_tokens(value: SecretStr | None, desks: Sequence[str]) -> Tokens:
    """FACTDESK_API_TOKENS as tokens and grants: `TOKEN` for every desk, `TOKEN=a+b` for desks
    a and b, entries separated by commas. Errors say which entry, never what it holds."""
    text = value.get_secret_value() if value is not None else ""
    entries: list[tuple[bytes, Grant]] = []
    for number, entry in enumerate((e.strip() for e in text.split(",")), 1):
        if not entry:
            continue
        token, limited, named = (part.strip() for part in entry.partition("="))
        if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
            raise ConfigError(
                f"{VARIABLE}: token {number} is shorter than {MIN_TOKEN_CHARS} characters or "
                "holds a space; use long random ones (`python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`)."
            )
        grant = EVERY_DESK
        if limited:
            chosen = frozenset(name.strip() for name in named.split("+") if name.strip())
            unknown = sorted(chosen - set(desks))
            if not chosen or unknown:
                raise ConfigError(
                    f"{VARIABLE}: token {number} names "
                    + (f"an unknown desk {unknown[0]!r}" if unknown else "no desk after `=`")
                    + f" (desks: {', '.join(desks)})."
                )
            grant = Grant(chosen)
        entries.append((token.encode("utf-8"), grant))
    return Tokens(tuple(entries))


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, tokens: Tokens) -> None:
    """A server reachable from other machines must ask for a token: without FACTDESK_API_TOKENS
    only a loopback address is allowed."""
    if not tokens.required and not is_loopback(host):
        raise ConfigError(
            f"Refusing to listen on {host} without {VARIABLE}: anyone who can reach it could "
            f"ask. Set {VARIABLE} (bearer tokens), or listen on 127.0.0.1 behind a proxy."
        )
