"""What the CRM tells other apps. Apps that file cases (the ledger's refunds, for instance)
listen here instead of the CRM knowing them: dependencies keep pointing one way."""

from django.dispatch import Signal

# Sent by ``case_transition`` inside its transaction, after the status event is written, with
# ``case``, ``previous`` (status), ``target`` (status), ``actor`` and ``note``. A receiver that
# raises rolls the whole transition back.
case_status_changed = Signal()
