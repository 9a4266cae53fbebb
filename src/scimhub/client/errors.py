"""What the admin API client raises."""

from __future__ import annotations


class AdminApiError(Exception):
    """The admin API answered an error: its HTTP status and its ``detail``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class FeedExpired(AdminApiError):
    """410 from the event feed: events after the checkpoint were purged by retention.

    The documented resynchronisation: read the directory again (``directory_users``, or the SCIM
    API), then read the feed on from ``resume_after``, which is where retention begins."""

    def __init__(self, detail: str, oldest: int, resume_after: int) -> None:
        super().__init__(410, detail)
        self.oldest = oldest
        self.resume_after = resume_after


class WebhookVerificationError(Exception):
    """A webhook request that is not a genuine, fresh delivery: do not act on it (answer 400)."""
