"""Routing rules, evaluated in order (pure: no Django). A rule matches when each of its
conditions is empty (any) or equal to the case's value; a category condition also matches the
category's descendants. The first matching rule wins."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    id: int
    order: int
    category_id: int | None
    territory_id: int | None
    channel: str
    priority: str
    team_id: int
    assignee_id: int | None = None


@dataclass(frozen=True)
class Facts:
    category_path: Sequence[int]  # the category and its ancestors, nearest first
    territory_path: Sequence[int]  # the territory and its ancestors (area, district)
    channel: str
    priority: str


def route(rules: Iterable[Rule], facts: Facts) -> Rule | None:
    for rule in sorted(rules, key=lambda r: (r.order, r.id)):
        if rule.category_id is not None and rule.category_id not in facts.category_path:
            continue
        if rule.territory_id is not None and rule.territory_id not in facts.territory_path:
            continue
        if rule.channel and rule.channel != facts.channel:
            continue
        if rule.priority and rule.priority != facts.priority:
            continue
        return rule
    return None


def pick_member(
    members: Sequence[int], strategy: str, *, last_assigned: int | None, open_counts: dict[int, int]
) -> int | None:
    """Round robin (after the last assigned member, in id order) or least loaded (fewest open
    cases; ties to the lowest id)."""
    if not members:
        return None
    ordered = sorted(members)
    if strategy == "least_loaded":
        return min(ordered, key=lambda m: (open_counts.get(m, 0), m))
    if last_assigned is None or last_assigned not in ordered:
        later = [m for m in ordered if last_assigned is not None and m > last_assigned]
        return later[0] if later else ordered[0]
    return ordered[(ordered.index(last_assigned) + 1) % len(ordered)]
