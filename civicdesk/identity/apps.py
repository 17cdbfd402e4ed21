from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    name = "civicdesk.identity"
    label = "identity"
    verbose_name = _("Identity")

    def ready(self) -> None:
        from civicdesk.identity import signals

        signals.connect_post_migrate(self)
