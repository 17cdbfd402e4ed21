"""Roles are Django groups. This table is their definition: data, synced after every migrate."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Role:
    key: str
    name: str  # the group's name (stable, English; shown translated through `label`)
    label: object
    staff: bool
    permissions: tuple[str, ...] = field(default=())  # "app_label.codename"


RESIDENT = "resident"
CALL_CENTRE_AGENT = "call_centre_agent"
REVENUE_OFFICER = "revenue_officer"
CASE_SPECIALIST = "case_specialist"
SERVICE_CENTRE_ADMIN = "service_centre_admin"
MANAGING_AGENT = "managing_agent"
QUALITY_CONTROLLER = "quality_controller"
OPERATOR_ADMIN = "operator_admin"

_STAFF_READ = ("core.view_auditevent",)

ROLES: dict[str, Role] = {
    r.key: r
    for r in (
        Role(RESIDENT, "Resident", _("Resident"), staff=False),
        Role(
            CALL_CENTRE_AGENT,
            "Call-centre agent",
            _("Call-centre agent"),
            staff=True,
            permissions=("identity.view_user",),
        ),
        Role(
            REVENUE_OFFICER,
            "Revenue officer",
            _("Revenue officer"),
            staff=True,
            permissions=("identity.view_user",),
        ),
        Role(
            CASE_SPECIALIST,
            "Case specialist",
            _("Case specialist"),
            staff=True,
            permissions=("identity.view_user",),
        ),
        Role(
            SERVICE_CENTRE_ADMIN,
            "Service-centre administrator",
            _("Service-centre administrator"),
            staff=True,
            permissions=("identity.view_user",),
        ),
        Role(MANAGING_AGENT, "Managing agent", _("Managing agent"), staff=False),
        Role(
            QUALITY_CONTROLLER,
            "Quality controller",
            _("Quality controller"),
            staff=True,
            permissions=("identity.view_user", *_STAFF_READ),
        ),
        Role(
            OPERATOR_ADMIN,
            "Operator admin",
            _("Operator admin"),
            staff=True,
            permissions=(
                "identity.view_user",
                "identity.add_user",
                "identity.change_user",
                "registry.view_operator",
                "registry.change_operator",
                "notifications.view_delivery",
                *_STAFF_READ,
            ),
        ),
    )
}


def role_by_group_name(name: str) -> Role | None:
    return next((r for r in ROLES.values() if r.name == name), None)
