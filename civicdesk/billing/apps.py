from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "civicdesk.billing"
    label = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from civicdesk.billing import casework, slots

        slots.register()
        casework.register()
