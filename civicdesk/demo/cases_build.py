"""Demo categories, teams, routing rules, working hours, the Open311 demo client and a few
cases in different states for the demo residents."""

from __future__ import annotations

import datetime as dt

from civicdesk.cases import services as case_services
from civicdesk.cases.models import Category, RoutingRule, Team, WorkingHours
from civicdesk.cases.open311.services import open311_client_create
from civicdesk.cases.services import Intake
from civicdesk.demo.cases_data import CATEGORIES, TEAMS, WORKING_HOURS
from civicdesk.identity.models import User
from civicdesk.registry.models import PersonalAccount

DEMO_OPEN311_KEY = "demo-open311-key"  # documented in docs/open311.md; demo only


def build_cases(*, jurisdiction: str, language: str, residents: list[User]) -> dict:
    for weekday, windows in WORKING_HOURS[jurisdiction].items():
        for opens, closes in windows:
            WorkingHours.objects.create(
                weekday=weekday,
                opens=dt.time.fromisoformat(opens),
                closes=dt.time.fromisoformat(closes),
            )
    teams = {}
    for code, team_names, members in TEAMS:
        team = Team.objects.create(code=code, name=team_names.get(language, team_names["en"]))
        team.members.set(User.objects.filter(email__in=members))
        teams[code] = team
    categories = {}
    for order, (
        code,
        parent,
        kind,
        cat_names,
        questions,
        public,
        location,
        priority,
        first,
        resolution,
        team_code,
    ) in enumerate(CATEGORIES):
        category = Category.objects.create(
            code=code,
            parent=categories.get(parent),
            kind=kind,
            names=cat_names,
            questions=list(questions),
            public=public,
            requires_location=location,
            default_priority=priority,
            first_response_amount=first[0],
            first_response_unit=first[1],
            resolution_amount=resolution[0],
            resolution_unit=resolution[1],
            order=order,
        )
        categories[code] = category
        RoutingRule.objects.create(order=10 + order, category=category, team=teams[team_code])
    RoutingRule.objects.create(order=1000, team=teams["call-centre"])  # everything else
    open311_client_create("Demo Open311 client", key=DEMO_OPEN311_KEY)

    created = 0
    if residents:
        resident = residents[0]
        account = PersonalAccount.objects.filter(links__user=resident).order_by("number").first()
        concerns = [account] if account else []
        enquiry = case_services.case_create(
            Intake(
                category=categories["general-enquiry"],
                channel="portal",
                requester=resident,
                subject="When is the next meter reading?",
                concerns=concerns,
            )
        )
        dispute = case_services.case_create(
            Intake(
                category=categories["invoice-dispute"],
                channel="portal",
                requester=resident,
                subject="Water charge doubled",
                concerns=concerns,
                answers={"period": "2026-09", "amount": "412.50"},
            )
        )
        case_services.case_note(
            case=dispute,
            actor=teams["revenue"].members.first(),
            public=True,
            text="The September reading was estimated; we corrected it to the actual reading.",
        )
        case_services.case_transition(case=dispute, target="resolved")
        outage = case_services.case_create(
            Intake(
                category=categories["outage"],
                channel="portal",
                requester=resident,
                subject="No electricity in the whole street",
                concerns=concerns,
                answers={"whole_street": True},
            )
        )
        created = 3
        if len(residents) > 1:
            other = residents[1]
            theirs = PersonalAccount.objects.filter(links__user=other).first()
            duplicate = case_services.case_create(
                Intake(
                    category=categories["outage"],
                    channel="sms",
                    requester=other,
                    subject="Power is off",
                    concerns=[theirs] if theirs else [],
                )
            )
            case_services.case_mark_duplicate(case=duplicate, parent=outage)
            created += 1
        del enquiry
    return {"categories": len(categories), "teams": len(teams), "cases": created}
