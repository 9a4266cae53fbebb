"""``user.roles_changed`` events: one per user whose effective roles a write changed."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence

from scimhub.directory.roles import RoleChange
from scimhub.events.model import EventDraft
from scimhub.events.model import EventType


def roles_changed_drafts(
    changes: Sequence[RoleChange],
    ids: Callable[[], str],
    clock: Callable[[], str],
    token_id: str | None,
    method: str,
) -> list[EventDraft]:
    """The events of ``changes``, in order (their data: id, userName, before, after)."""
    if not changes:  # most writes: the clock is not read
        return []
    now = clock()
    return [
        EventDraft(
            id=ids(),
            type=EventType.USER_ROLES_CHANGED,
            resource_type="User",
            resource_id=change.user_id,
            occurred_at=now,
            token_id=token_id,
            data=change.to_json(),
            method=method,
        )
        for change in changes
    ]
