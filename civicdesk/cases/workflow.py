"""The case status machine, as data (pure: no Django).

Each status lists the statuses it may move to. Services consult the table; nothing else
decides. "waiting_customer" pauses the SLA clock; "resolved" may be reopened within the
category's reopen window; "closed" and "cancelled" are final.
"""

from __future__ import annotations

NEW = "new"
ASSIGNED = "assigned"
IN_PROGRESS = "in_progress"
WAITING_CUSTOMER = "waiting_customer"
RESOLVED = "resolved"
CLOSED = "closed"
REOPENED = "reopened"
CANCELLED = "cancelled"

STATUSES = (NEW, ASSIGNED, IN_PROGRESS, WAITING_CUSTOMER, RESOLVED, CLOSED, REOPENED, CANCELLED)

TRANSITIONS: dict[str, frozenset[str]] = {
    NEW: frozenset({ASSIGNED, IN_PROGRESS, WAITING_CUSTOMER, RESOLVED, CANCELLED}),
    ASSIGNED: frozenset({IN_PROGRESS, WAITING_CUSTOMER, RESOLVED, CANCELLED}),
    IN_PROGRESS: frozenset({WAITING_CUSTOMER, RESOLVED, CANCELLED, ASSIGNED}),
    WAITING_CUSTOMER: frozenset({IN_PROGRESS, RESOLVED, CANCELLED}),
    RESOLVED: frozenset({CLOSED, REOPENED}),
    REOPENED: frozenset({ASSIGNED, IN_PROGRESS, WAITING_CUSTOMER, RESOLVED, CANCELLED}),
    CLOSED: frozenset(),
    CANCELLED: frozenset(),
}

OPEN = frozenset({NEW, ASSIGNED, IN_PROGRESS, WAITING_CUSTOMER, REOPENED})
PAUSED = frozenset({WAITING_CUSTOMER})
DONE = frozenset({RESOLVED, CLOSED, CANCELLED})
# Statuses a requester may set themselves (from the portal or the API).
REQUESTER_MAY_SET = frozenset({REOPENED, CANCELLED})


def can_move(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def first_response_counts(current: str, target: str) -> bool:
    """Leaving "new" for anything but cancellation is the first response."""
    return current == NEW and target != CANCELLED
