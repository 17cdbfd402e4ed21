"""What each validation reason code means, in the user's language (the pure `validation`
module speaks in codes)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from civicdesk.metering import validation as v


def reason_text(code: str, details: dict | None = None) -> str:
    """One sentence for a reason code, with the facts that explain it where we have them."""
    details = details or {}
    if code == v.LOWER_THAN_PREVIOUS:
        if "previous" in details:
            return _("The reading is lower than the previous one (%(previous)s).") % {
                "previous": _number(details["previous"])
            }
        return _("The reading is lower than the previous one.")
    if code == v.TOO_MANY_DIGITS:
        if "digits" in details:
            return _("The meter shows at most %(digits)d digits before the decimal point.") % {
                "digits": details["digits"]
            }
        return _("The reading has more digits than the meter.")
    if code == v.SPIKE:
        if "average" in details:
            return _("The use is far above your usual (about %(average)s a month).") % {
                "average": _number(details["average"])
            }
        return _("The use is far above your usual.")
    texts = {
        v.BAD_VALUE: _("Give the reading as a number, with at most three decimals."),
        v.NEGATIVE: _("A reading cannot be negative."),
        v.IN_FUTURE: _("The reading's date is in the future."),
        v.BEFORE_INSTALLATION: _("The reading's date is before the meter was installed."),
        v.BEFORE_PREVIOUS: _("A later reading of this meter is already on record."),
        v.DUPLICATE: _("This reading is already on record."),
        v.METER_REMOVED: _("This meter has been removed."),
        v.METER_FAULTY: _("This meter is marked faulty; report the fault instead."),
        v.OUTSIDE_WINDOW: _("Readings are accepted only inside the monthly submission window."),
        v.ROLLED_OVER: _("The meter went past its highest number and started again from zero."),
        v.LATE: _("It came after this month's window closed and counts for the next period."),
        v.ESTIMATED_AVERAGE: _("Estimated from the average of recent months."),
        v.ESTIMATED_NORM: _("Estimated by the norm for the premises."),
    }
    return str(texts.get(code, code))


def reasons_text(codes, details: dict | None = None) -> str:
    return " ".join(reason_text(code, details) for code in codes)


def status_text(status: str) -> str:
    return str(
        {
            v.ACCEPTED: _("Accepted"),
            v.FLAGGED: _("Accepted for review"),
            v.REJECTED: _("Not accepted"),
        }[status]
    )


def _number(value) -> str:
    text = format(value.normalize() if hasattr(value, "normalize") else value, "f")
    return text
