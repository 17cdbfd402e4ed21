from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LedgerConfig(AppConfig):
    name = "civicdesk.ledger"
    label = "ledger"
    verbose_name = _("Ledger")

    def ready(self) -> None:
        from civicdesk.cases.signals import case_status_changed
        from civicdesk.ledger import slots

        slots.register()
        case_status_changed.connect(_refund_case_cancelled, dispatch_uid="ledger.refund_case")


def _refund_case_cancelled(sender, *, case, target, actor, note, **kwargs) -> None:
    from civicdesk.cases import workflow
    from civicdesk.ledger.refunds import refund_case_cancelled

    if target == workflow.CANCELLED:
        refund_case_cancelled(case=case, actor=actor, note=note)
