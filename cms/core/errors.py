"""Domain errors raised by services and mapped to typed GraphQL errors by the API layer."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: a rule of the domain refused the request; the message is safe to show to clients."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The object does not exist, or the caller may not know that it does."""


class Forbidden(DomainError):
    """The caller is known but lacks the permission."""


class Unauthenticated(DomainError):
    """The credentials presented are missing, malformed or invalid."""


class Conflict(DomainError):
    """The request collides with existing state (a duplicate slug, say)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Invalid(DomainError):
    """Input failed validation; `problems` maps a field path to a message (dotted inside a field: `config.url`)."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{path}: {msg}" for path, msg in problems.items()))
        self.problems = problems


class IdentityProviderUnavailable(Unauthenticated):
    """The identity provider's keys could not be fetched and none are cached: a server-side outage."""


class TooLarge(DomainError):
    """More bytes arrived than were declared or allowed (HTTP 413)."""


class UnsupportedMedia(DomainError):
    """The bytes are not a kind of file this CMS accepts (HTTP 415)."""
