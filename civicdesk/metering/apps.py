from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MeteringConfig(AppConfig):
    name = "civicdesk.metering"
    label = "metering"
    verbose_name = _("Metering")

    def ready(self) -> None:
        from civicdesk.metering import slots, sms_handler

        sms_handler.register()
        slots.register()
