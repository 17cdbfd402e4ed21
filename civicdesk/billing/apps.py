from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "civicdesk.billing"
    label = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from civicdesk.billing import casework, selectors, slots
        from civicdesk.registry.services import last_bill_source_register

        slots.register()
        casework.register()
        last_bill_source_register(selectors.last_bill_amount)
