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
_REGISTRY_MODELS = (
    "provider",
    "territory",
    "servicecentre",
    "building",
    "premises",
    "personalaccount",
    "accountholder",
    "accountservice",
    "accountlink",
    "openingbalance",
)
REGISTRY_VIEW = tuple(f"registry.view_{m}" for m in _REGISTRY_MODELS)
REGISTRY_ALL = (
    *(f"registry.{a}_{m}" for m in _REGISTRY_MODELS for a in ("add", "change", "delete")),
    "registry.review_linkrequest",
    "registry.view_linkrequest",
    "registry.view_importrun",
)
CASES_WORK = (
    "cases.view_case",
    "cases.add_case",
    "cases.work_case",
    "cases.view_call",
    "cases.add_call",
    "cases.view_category",
    "cases.view_team",
)
CASES_ADMIN = tuple(
    f"cases.{a}_{m}"
    for m in ("category", "team", "routingrule", "workinghours", "closure", "open311client")
    for a in ("view", "add", "change", "delete")
)
ACCOUNT_EDIT = tuple(
    f"registry.{action}_{m}"
    for m in ("personalaccount", "accountholder", "accountservice")
    for action in ("add", "change")
)
LEDGER_VIEW = tuple(
    f"ledger.view_{m}"
    for m in (
        "ledgeraccount",
        "transaction",
        "posting",
        "allocation",
        "payment",
        "paymentevent",
        "bankstatement",
        "bankline",
        "missingpaymentreport",
        "refundrequest",
    )
)
LEDGER_WORK = (
    "ledger.add_bankstatement",
    "ledger.match_bankline",
    "ledger.change_missingpaymentreport",
    "ledger.approve_refundrequest",
    "ledger.pay_refundrequest",
)
METERING_VIEW = tuple(
    f"metering.view_{m}"
    for m in ("meter", "reading", "readingimport", "consumptionalert", "estimatetrueup")
)
# Staff enter a caller's reading (add_reading); reviewers decide flagged ones.
METERING_ENTER = ("metering.add_reading",)
METERING_WORK = (
    *METERING_ENTER,
    "metering.review_reading",
    "metering.add_readingimport",
    "metering.add_meter",
    "metering.change_meter",
)
BILLING_VIEW = (
    "billing.view_invoice",
    "billing.view_billingrun",
    "billing.view_runexception",
    "billing.view_invoicedispute",
    "tariffs.view_tariff",
)
BILLING_WORK = (
    "billing.run_billing",
    "billing.change_invoicedispute",
    "tariffs.add_tariff",
)

ROLES: dict[str, Role] = {
    r.key: r
    for r in (
        Role(RESIDENT, "Resident", _("Resident"), staff=False),
        Role(
            CALL_CENTRE_AGENT,
            "Call-centre agent",
            _("Call-centre agent"),
            staff=True,
            permissions=(
                "identity.view_user",
                *REGISTRY_VIEW,
                *CASES_WORK,
                *LEDGER_VIEW,
                *METERING_VIEW,
                *METERING_ENTER,
                "billing.view_invoice",
                "tariffs.view_tariff",
            ),
        ),
        Role(
            REVENUE_OFFICER,
            "Revenue officer",
            _("Revenue officer"),
            staff=True,
            permissions=(
                "identity.view_user",
                *REGISTRY_VIEW,
                *ACCOUNT_EDIT,
                *CASES_WORK,
                *LEDGER_VIEW,
                *LEDGER_WORK,
                *METERING_VIEW,
                *METERING_WORK,
                *BILLING_VIEW,
                *BILLING_WORK,
            ),
        ),
        Role(
            CASE_SPECIALIST,
            "Case specialist",
            _("Case specialist"),
            staff=True,
            permissions=(
                "identity.view_user",
                *REGISTRY_VIEW,
                *CASES_WORK,
                *METERING_VIEW,
                "metering.review_reading",
            ),
        ),
        Role(
            SERVICE_CENTRE_ADMIN,
            "Service-centre administrator",
            _("Service-centre administrator"),
            staff=True,
            permissions=(
                "identity.view_user",
                *REGISTRY_VIEW,
                *CASES_WORK,
                "registry.view_linkrequest",
                "registry.review_linkrequest",
                *METERING_VIEW,
                *METERING_ENTER,
            ),
        ),
        Role(MANAGING_AGENT, "Managing agent", _("Managing agent"), staff=False),
        Role(
            QUALITY_CONTROLLER,
            "Quality controller",
            _("Quality controller"),
            staff=True,
            permissions=(
                "identity.view_user",
                *REGISTRY_VIEW,
                "cases.view_case",
                "cases.view_call",
                *LEDGER_VIEW,
                *METERING_VIEW,
                *BILLING_VIEW,
                *_STAFF_READ,
            ),
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
                *REGISTRY_VIEW,
                *REGISTRY_ALL,
                *CASES_WORK,
                *CASES_ADMIN,
                *LEDGER_VIEW,
                *LEDGER_WORK,
                *METERING_VIEW,
                *METERING_WORK,
                "metering.view_meteringsettings",
                "metering.change_meteringsettings",
                *BILLING_VIEW,
                *BILLING_WORK,
                "billing.view_billingsettings",
                "billing.change_billingsettings",
                *_STAFF_READ,
            ),
        ),
    )
}


def role_by_group_name(name: str) -> Role | None:
    return next((r for r in ROLES.values() if r.name == name), None)
