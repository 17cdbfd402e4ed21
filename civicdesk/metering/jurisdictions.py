"""Each jurisdiction's metering defaults: SMS codes and formats, the submission window, the
estimation limits and norms. Plain data, no Django import; an operator changes any of it in
their metering settings (docs/sms.md, docs/metering.md)."""

from __future__ import annotations

DEFAULTS: dict[str, dict] = {
    "ru": {
        "sms_grammars": ["spaced", "glued", "hash"],
        "sms_codes": {
            "ХВ": "cold_water",
            "ГВ": "hot_water",
            "ЭЛ": "electricity",
            "ГЗ": "gas",
            "ТП": "heat",
        },
        "sms_keywords": ["ПОКАЗАНИЯ", "ПОКАЗ"],
        # Readings are due by the 25th (the operator's contract usually says 15th-25th).
        "window_start_day": 15,
        "window_end_day": 25,
        "outside_window": "next_period",
        # Decree 354, paragraphs 59-60: the average of at least six months (three at the
        # least) for up to three periods, then the norm. The limits have changed over the
        # years, hence settings.
        "estimate_average_months": 6,
        "estimate_min_months": 3,
        "estimate_max_periods": 3,
        "norms": {
            "cold_water": {"per_occupant": "6.935"},
            "hot_water": {"per_occupant": "4.745"},
            "electricity": {"per_occupant": "75"},
            "gas": {"per_occupant": "10"},
            "heat": {"per_m2": "0.0160"},
        },
    },
    "ua": {
        "sms_grammars": ["spaced", "glued", "hash"],
        "sms_codes": {
            "ХВ": "cold_water",
            "ГВ": "hot_water",
            "ЕЛ": "electricity",
            "ГАЗ": "gas",
            "ТЕП": "heat",
        },
        "sms_keywords": ["ПОКАЗНИКИ", "ПОКАЗ"],
        "window_start_day": 1,
        "window_end_day": 31,
        "outside_window": "next_period",
        "estimate_average_months": 6,
        "estimate_min_months": 3,
        "estimate_max_periods": 3,
        "norms": {
            "cold_water": {"per_occupant": "3.6"},
            "hot_water": {"per_occupant": "2.7"},
            "electricity": {"per_occupant": "70"},
            "gas": {"per_occupant": "9.8"},
            "heat": {"per_m2": "0.0185"},
        },
    },
    "za": {
        "sms_grammars": ["spaced", "glued", "hash"],
        # CW cold water, HW hot water, EL electricity, G gas: what the help SMS shows.
        "sms_codes": {"CW": "cold_water", "HW": "hot_water", "EL": "electricity", "G": "gas"},
        "sms_keywords": ["READ", "METER"],
        "window_start_day": 1,
        "window_end_day": 31,
        "outside_window": "next_period",
        "estimate_average_months": 3,
        "estimate_min_months": 1,
        "estimate_max_periods": 3,
        # No national norm: after the average's periods the average goes on (docs/metering.md).
        "norms": {},
    },
}


def defaults_for(jurisdiction: str) -> dict:
    return dict(DEFAULTS.get((jurisdiction or "").lower(), DEFAULTS["za"]))
