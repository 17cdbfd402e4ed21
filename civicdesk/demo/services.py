"""Building a demo operator. Deterministic for a given jurisdiction and seed; idempotent."""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from civicdesk.demo.billing_build import build_billing
from civicdesk.demo.cases_build import build_cases
from civicdesk.demo.ledger_build import build_ledger
from civicdesk.demo.ledger_data import build_banking
from civicdesk.demo.metering_build import build_metering
from civicdesk.demo.profiles import DEMO_TOTP_SECRET, DEMO_USERS, PROFILES
from civicdesk.demo.registry_build import build_registry
from civicdesk.demo.registry_data import SPECS
from civicdesk.identity import roles
from civicdesk.identity.models import Channel, User
from civicdesk.identity.services import user_assign_role
from civicdesk.registry.models import Operator


@dataclass
class DemoReport:
    operator: Operator
    created: bool
    users: list[tuple[str, str]]  # (email, role label)
    registry: dict | None = None


@transaction.atomic
def demo_build(*, jurisdiction: str, accounts: int = 1000, seed: int = 1) -> DemoReport:
    """Create the demo operator and its users. When an operator exists, keep it and its data."""
    profile = PROFILES[jurisdiction]
    rng = random.Random(f"{jurisdiction}:{seed}")  # noqa: S311 - demo data, not security
    operator = Operator.objects.first()
    created = operator is None
    if created:
        operator = Operator.objects.create(
            name=profile.name,
            jurisdiction=profile.jurisdiction,
            currency=profile.currency,
            timezone=profile.timezone,
            default_language=profile.default_language,
            enabled_languages=list(profile.enabled_languages),
            email=profile.email,
            phone=profile.phone,
            website=profile.website,
            address=profile.address,
        )
    users = []
    totp_key = base64.b32decode(DEMO_TOTP_SECRET).hex()
    for demo in DEMO_USERS:
        role = roles.ROLES[demo.role]
        user = User.objects.filter(email=demo.email).first()
        if user is None:
            user = User.objects.create_user(
                email=demo.email,
                password=settings.CIVICDESK_DEMO_PASSWORD,
                full_name=demo.full_name,
                phone=profile.phone_prefix + demo.phone_suffix,
                preferred_language=profile.default_language,
                preferred_channel=Channel.EMAIL,
                email_verified_at=timezone.now(),
                phone_verified_at=timezone.now(),
                is_superuser=demo.role == roles.OPERATOR_ADMIN,
            )
            user_assign_role(user=user, role_key=demo.role)
            if role.staff:
                TOTPDevice.objects.create(
                    user=user, name="Demo authenticator", key=totp_key, confirmed=True
                )
        users.append((demo.email, str(role.label)))
    registry = None
    if created:
        residents = [
            User.objects.get(email=d.email) for d in DEMO_USERS if d.role == roles.RESIDENT
        ]
        registry = build_registry(
            spec=SPECS[jurisdiction], accounts=accounts, rng=rng, residents=residents
        )
        registry["cases"] = build_cases(
            jurisdiction=jurisdiction, language=profile.default_language, residents=residents
        )
        registry["ledger"] = build_ledger(
            currency=profile.currency, resident_accounts=registry["resident_accounts"], rng=rng
        )
        registry["banking"] = build_banking(
            jurisdiction=profile.jurisdiction,
            currency=profile.currency,
            resident_accounts=registry["resident_accounts"],
            rng=rng,
        )
        registry["metering"] = build_metering(
            jurisdiction=profile.jurisdiction,
            resident_accounts=registry["resident_accounts"],
            rng=rng,
        )
        registry["billing"] = build_billing(
            operator=operator,
            today=timezone.localdate(),
            resident_accounts=registry["resident_accounts"],
            rng=rng,
        )
    return DemoReport(operator=operator, created=created, users=users, registry=registry)
