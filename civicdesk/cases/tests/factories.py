"""Builders for cases tests: categories with SLAs, teams with members, routing rules."""

from __future__ import annotations

import itertools

from civicdesk.cases.models import Category, RoutingRule, Team

_seq = itertools.count(1)


def category(
    code=None,
    *,
    kind="enquiry",
    parent=None,
    questions=(),
    public=False,
    resolution=(5, "working_days"),
    first_response=(8, "working_hours"),
    requires_location=False,
    names=None,
) -> Category:
    n = next(_seq)
    return Category.objects.create(
        code=code or f"cat{n}",
        kind=kind,
        parent=parent,
        names=names
        or {
            "en": f"Category {n}",
            "af": f"Kategorie {n}",
            "uk": f"Категорія {n}",
            "ru": f"Категория {n}",
        },
        questions=list(questions),
        public=public,
        requires_location=requires_location,
        resolution_amount=resolution[0] if resolution else None,
        resolution_unit=resolution[1] if resolution else "",
        first_response_amount=first_response[0] if first_response else None,
        first_response_unit=first_response[1] if first_response else "",
    )


def team(code=None, *, members=(), strategy="round_robin") -> Team:
    n = next(_seq)
    t = Team.objects.create(code=code or f"team{n}", name=f"Team {n}", strategy=strategy)
    t.members.set(members)
    return t


def rule(
    team_, *, order=100, category_=None, territory=None, channel="", priority="", assignee=None
) -> RoutingRule:
    return RoutingRule.objects.create(
        order=order,
        team=team_,
        category=category_,
        territory=territory,
        channel=channel,
        priority=priority,
        assignee=assignee,
    )
