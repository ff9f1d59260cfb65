"""The one exception family: every error a user can see, with its exit code.

Raise where the cause is known; `cli.main` catches once and prints the message
and hint, never a traceback (unless DEVSHELL_DEBUG=1).
"""

from __future__ import annotations

__all__ = [
    "DevshellError",
    "FetchError",
    "IntegrityError",
    "LockStaleError",
    "SpecError",
    "StoreError",
    "UnsafeArchiveError",
    "UsageError",
]


class DevshellError(Exception):
    """An error written for the user: what happened, and a hint on what to do."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        from devshell.say import worded

        text = f"devshell: error: {worded(self.message)}"
        if self.hint:
            text += f"\n  hint: {worded(self.hint)}"
        return text


class UsageError(DevshellError):
    """The command line was wrong."""

    exit_code = 2


class SpecError(DevshellError):
    """devshell.toml is malformed or asks for something impossible."""

    exit_code = 3


class LockStaleError(DevshellError):
    """The lock is missing or out of date and re-locking is not allowed."""

    exit_code = 4


class FetchError(DevshellError):
    """A download or an upstream query failed."""

    exit_code = 5

    def __init__(self, message: str, hint: str | None = None, status: int | None = None) -> None:
        super().__init__(message, hint)
        self.status = status  # the HTTP status, when the server answered with an error


class IntegrityError(FetchError):
    """Downloaded bytes do not match the hash the lock names."""


class StoreError(DevshellError):
    """Adding to, or reading from, the store failed."""

    exit_code = 6


class UnsafeArchiveError(StoreError):
    """An archive holds a member that must never be written."""
