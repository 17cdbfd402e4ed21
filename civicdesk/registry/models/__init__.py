"""The customer registry: operator, organisation, property and accounts, links and imports."""

from civicdesk.registry.models.accounts import (
    AccountHolder,
    AccountService,
    DeliveryPreference,
    HolderRole,
    PersonalAccount,
)
from civicdesk.registry.models.imports import ImportRun, OpeningBalance
from civicdesk.registry.models.links import AccountLink, LinkInvitation, LinkRequest
from civicdesk.registry.models.operator import Jurisdiction, Operator
from civicdesk.registry.models.organisation import (
    Closure,
    OpeningHours,
    Provider,
    ServiceCentre,
    ServiceType,
    Territory,
)
from civicdesk.registry.models.property import Building, Premises

__all__ = [
    "AccountHolder",
    "AccountLink",
    "AccountService",
    "Building",
    "Closure",
    "DeliveryPreference",
    "HolderRole",
    "ImportRun",
    "Jurisdiction",
    "LinkInvitation",
    "LinkRequest",
    "OpeningBalance",
    "OpeningHours",
    "Operator",
    "PersonalAccount",
    "Premises",
    "Provider",
    "ServiceCentre",
    "ServiceType",
    "Territory",
]
