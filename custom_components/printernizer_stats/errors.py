"""Errors of the integration's own modules, free of Home Assistant.

Both HTTP clients raise these; the Home Assistant layer translates them into
`UpdateFailed`, `HomeAssistantError` or `ServiceValidationError` with a
translation key in one place each (coordinator, actions), so no domain module
formats user-facing text.
"""

from __future__ import annotations

from datetime import timedelta


class PrinternizerStatsError(Exception):
    """Base of every error raised by the domain modules."""


class ClientError(PrinternizerStatsError):
    """A server could not be asked, or did not answer as expected.

    `reason` is a short code (`timeout`, `connection_error`, `http_503`, ...)
    safe to log and to show: it never carries a URL, a key or a body.
    """

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        """Keep the reason code and the HTTP status, if there was one."""
        super().__init__(reason)
        self.reason = reason
        self.status = status


class CannotConnectError(ClientError):
    """No answer: network error, timeout, or a server error worth retrying."""


class InvalidResponseError(ClientError):
    """Something answered, but not like the server we expected."""


class RateLimitedError(ClientError):
    """The server is busy with us; try again after `retry_after` (if it said)."""

    def __init__(
        self, reason: str, *, status: int | None = 429, retry_after: timedelta | None
    ) -> None:
        """Keep how long the server asked us to wait."""
        super().__init__(reason, status=status)
        self.retry_after = retry_after


class AuthFailedError(ClientError):
    """The statistics service refused the API key (401/403)."""


class RejectedError(ClientError):
    """The statistics service refused the request itself (400/422): do not resend it."""


class InsecureEndpointError(PrinternizerStatsError, ValueError):
    """The statistics endpoint is not HTTPS (and not this machine)."""


class InvalidEndpointError(PrinternizerStatsError, ValueError):
    """The statistics endpoint is not a usable URL."""


class ContractError(PrinternizerStatsError, ValueError):
    """A built report does not fit the statistics service's request model.

    A bug in the report builder: such a report is never sent.
    """


class StorageUnwritableError(PrinternizerStatsError):
    """The statistics file cannot be written; nothing is sent until it can."""
