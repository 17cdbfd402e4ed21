from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


def _forget_operator(**kwargs) -> None:
    from django.core.cache import cache

    from civicdesk.registry.selectors import OPERATOR_CACHE_KEY

    cache.delete(OPERATOR_CACHE_KEY)


class RegistryConfig(AppConfig):
    name = "civicdesk.registry"
    label = "registry"
    verbose_name = _("Registry")

    def ready(self) -> None:
        from civicdesk.registry.models import Operator
        from civicdesk.registry.slots import register_slots

        register_slots()
        post_save.connect(_forget_operator, sender=Operator, dispatch_uid="forget-operator")
        post_delete.connect(_forget_operator, sender=Operator, dispatch_uid="forget-operator-d")
