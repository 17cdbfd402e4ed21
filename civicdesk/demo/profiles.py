"""The demo operators, one per jurisdiction. Plain data; the command builds them."""

from __future__ import annotations

from dataclasses import dataclass

DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"  # base32; demo only, documented in the README


@dataclass(frozen=True)
class OperatorProfile:
    name: str
    jurisdiction: str
    currency: str
    timezone: str
    default_language: str
    enabled_languages: tuple[str, ...]
    email: str
    phone: str
    website: str
    address: str
    phone_prefix: str  # demo residents' numbers: prefix + 7 digits


PROFILES = {
    "za": OperatorProfile(
        name="City of Demo Metropolitan Municipality",
        jurisdiction="ZA",
        currency="ZAR",
        timezone="Africa/Johannesburg",
        default_language="en",
        enabled_languages=("en", "af", "uk", "ru"),
        email="customercare@demo.test",
        phone="+27123589999",
        website="https://metro.demo.test",
        address="Tshwane House, 320 Madiba Street, Pretoria, 0002",
        phone_prefix="+2782",
    ),
    "ua": OperatorProfile(
        name="Демо: Центр комунального сервісу",
        jurisdiction="UA",
        currency="UAH",
        timezone="Europe/Kyiv",
        default_language="uk",
        enabled_languages=("uk", "en", "ru", "af"),
        email="info@demo.test",
        phone="+380442470000",
        website="https://ccs.demo.test",
        address="вул. Хрещатик, 36, Київ, 01001",
        phone_prefix="+38067",
    ),
    "ru": OperatorProfile(
        name="Демо: Единый расчётный центр",
        jurisdiction="RU",
        currency="RUB",
        timezone="Europe/Moscow",
        default_language="ru",
        enabled_languages=("ru", "en", "uk", "af"),
        email="erc@demo.test",
        phone="+78652000000",
        website="https://erc.demo.test",
        address="ул. Ленина, 1, Ставрополь, 355000",
        phone_prefix="+7918",
    ),
}


@dataclass(frozen=True)
class DemoUser:
    email: str
    full_name: str
    role: str
    phone_suffix: str


DEMO_USERS = (
    DemoUser("resident@demo.test", "Thandi Mokoena", "resident", "0000001"),
    DemoUser("resident2@demo.test", "Pieter van der Merwe", "resident", "0000002"),
    DemoUser("agent@demo.test", "Lerato Dlamini", "call_centre_agent", "0000003"),
    DemoUser("revenue@demo.test", "Johan Botha", "revenue_officer", "0000004"),
    DemoUser("specialist@demo.test", "Nomvula Khumalo", "case_specialist", "0000005"),
    DemoUser("centre@demo.test", "Olena Kovalenko", "service_centre_admin", "0000006"),
    DemoUser("agent-org@demo.test", "Sipho Nkosi", "managing_agent", "0000007"),
    DemoUser("quality@demo.test", "Irina Sokolova", "quality_controller", "0000008"),
    DemoUser("admin@demo.test", "Ayanda Zulu", "operator_admin", "0000009"),
)
