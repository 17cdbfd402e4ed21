from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "civicdesk.registry"
    label = "registry"
    verbose_name = _("Registry")

    def ready(self) -> None:
        from civicdesk.registry.slots import register_slots

        register_slots()
