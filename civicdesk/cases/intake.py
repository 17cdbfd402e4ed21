"""Intake questions: a category's questions are data; answers are checked here (pure: no
Django). Returns cleaned answers and, per question key, an error code."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

MAX_TEXT = 2000


def clean_answers(questions: list[dict], answers: object) -> tuple[dict, dict[str, str]]:
    """(cleaned answers, {key: error code}). Codes: required, not_a_number, not_a_date,
    not_a_choice, not_yes_no, too_long, unknown."""
    if not isinstance(answers, dict):
        answers = {}
    known = {q["key"]: q for q in questions}
    cleaned: dict = {}
    errors: dict[str, str] = {}
    for key in answers:
        if key not in known:
            errors[str(key)[:60]] = "unknown"
    for key, question in known.items():
        value = answers.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if question.get("required"):
                errors[key] = "required"
            continue
        kind = question.get("type", "text")
        if kind == "number":
            try:
                number = Decimal(str(value).strip().replace(",", "."))
            except InvalidOperation:
                errors[key] = "not_a_number"
                continue
            if not number.is_finite():
                errors[key] = "not_a_number"
                continue
            cleaned[key] = str(number)
        elif kind == "date":
            try:
                cleaned[key] = dt.date.fromisoformat(str(value).strip()).isoformat()
            except ValueError:
                errors[key] = "not_a_date"
        elif kind == "choice":
            choices = [
                c["value"] if isinstance(c, dict) else c for c in question.get("choices", [])
            ]
            if str(value) not in choices:
                errors[key] = "not_a_choice"
            else:
                cleaned[key] = str(value)
        elif kind == "boolean":
            text = str(value).strip().lower()
            if text in {"true", "1", "yes", "on"} or value is True:
                cleaned[key] = True
            elif text in {"false", "0", "no", "off"} or value is False:
                cleaned[key] = False
            else:
                errors[key] = "not_yes_no"
        else:
            text = str(value).strip()
            if len(text) > MAX_TEXT:
                errors[key] = "too_long"
            else:
                cleaned[key] = text
    return cleaned, errors
