"""Demo case categories (translated), teams and routing, per the source documents."""

from __future__ import annotations


def names(en: str, af: str, uk: str, ru: str) -> dict[str, str]:
    return {"en": en, "af": af, "uk": uk, "ru": ru}


def question(key, kind, label, *, required=False, choices=None) -> dict:
    q = {"key": key, "type": kind, "label": label, "required": required}
    if choices:
        q["choices"] = choices
    return q


SINCE = question(
    "since",
    "date",
    names("Since when?", "Sedert wanneer?", "З якого часу?", "С какого времени?"),
)
PERIOD = question(
    "period",
    "text",
    names(
        "Which bill (month)?",
        "Watter rekening (maand)?",
        "Який рахунок (місяць)?",
        "Какая квитанция (месяц)?",
    ),
    required=True,
)
AMOUNT = question(
    "amount",
    "number",
    names("Amount in question", "Bedrag ter sprake", "Сума, що оскаржується", "Оспариваемая сумма"),
)
WHOLE_STREET = question(
    "whole_street",
    "boolean",
    names(
        "Are your neighbours affected too?",
        "Word u bure ook geraak?",
        "Сусіди теж без послуги?",
        "У соседей тоже нет услуги?",
    ),
)

# Only reports about places (outages, defects, leaks) are public, i.e. offered to Open311
# clients and listed in its feed; bills, meters and enquiries are personal.
# (code, parent, kind, names, questions, public, requires_location, priority,
#  first response (amount, unit), resolution (amount, unit), team)
CATEGORIES = (
    (
        "billing",
        None,
        "enquiry",
        names(
            "Bills and payments",
            "Rekeninge en betalings",
            "Рахунки та оплата",
            "Квитанции и оплата",
        ),
        (),
        False,
        False,
        "normal",
        (8, "working_hours"),
        (5, "working_days"),
        "revenue",
    ),
    (
        "invoice-dispute",
        "billing",
        "invoice_dispute",
        names(
            "Dispute a charge", "Betwis 'n heffing", "Оскаржити нарахування", "Оспорить начисление"
        ),
        (PERIOD, AMOUNT),
        False,
        False,
        "normal",
        (8, "working_hours"),
        (10, "working_days"),
        "revenue",
    ),
    (
        "payment-arrangement",
        "billing",
        "enquiry",
        names(
            "Payment arrangement",
            "Betalingsreëling",
            "Реструктуризація боргу",
            "Реструктуризация долга",
        ),
        (AMOUNT,),
        False,
        False,
        "normal",
        (8, "working_hours"),
        (5, "working_days"),
        "revenue",
    ),
    (
        "missing-payment",
        "billing",
        "missing_payment",
        names(
            "Missing payment", "Ontbrekende betaling", "Платіж не зараховано", "Платёж не зачислен"
        ),
        (AMOUNT,),
        False,
        False,
        "normal",
        (8, "working_hours"),
        (5, "working_days"),
        "revenue",
    ),
    (
        "refund",
        "billing",
        "refund",
        names("Refund request", "Terugbetalingsversoek", "Повернення коштів", "Возврат средств"),
        (AMOUNT,),
        False,
        False,
        "normal",
        (8, "working_hours"),
        (10, "working_days"),
        "revenue",
    ),
    (
        "meters",
        None,
        "meter_fault",
        names(
            "Meters and readings",
            "Meters en lesings",
            "Лічильники та показники",
            "Счётчики и показания",
        ),
        (),
        False,
        False,
        "normal",
        (8, "working_hours"),
        (5, "working_days"),
        "technical",
    ),
    (
        "meter-fault",
        "meters",
        "meter_fault",
        names("Faulty meter", "Foutiewe meter", "Несправний лічильник", "Неисправный счётчик"),
        (SINCE,),
        False,
        False,
        "normal",
        (8, "working_hours"),
        (10, "working_days"),
        "technical",
    ),
    (
        "water-leak",
        None,
        "leak",
        names("Water leak", "Waterlek", "Витік води", "Утечка воды"),
        (SINCE,),
        True,
        True,
        "urgent",
        (2, "working_hours"),
        (2, "working_days"),
        "technical",
    ),
    (
        "outage",
        None,
        "outage",
        names(
            "Outage (no power, water or heat)",
            "Onderbreking (geen krag, water of hitte)",
            "Відключення (немає світла, води чи тепла)",
            "Отключение (нет света, воды или тепла)",
        ),
        (SINCE, WHOLE_STREET),
        True,
        True,
        "high",
        (4, "working_hours"),
        (8, "working_days"),
        "technical",
    ),
    (
        "voltage",
        "outage",
        "voltage",
        names("Voltage problems", "Spanningsprobleme", "Перепади напруги", "Перепады напряжения"),
        (SINCE,),
        True,
        True,
        "high",
        (4, "working_hours"),
        (8, "working_days"),
        "technical",
    ),
    (
        "equipment-defect",
        "outage",
        "defect",
        names(
            "Damaged equipment (poles, cables, pipes)",
            "Beskadigde toerusting",
            "Пошкоджене обладнання",
            "Повреждённое оборудование",
        ),
        (),
        True,
        True,
        "normal",
        (8, "working_hours"),
        (8, "working_days"),
        "technical",
    ),
    (
        "general-enquiry",
        None,
        "enquiry",
        names("General enquiry", "Algemene navraag", "Загальне питання", "Общий вопрос"),
        (),
        False,
        False,
        "normal",
        (8, "working_hours"),
        (5, "working_days"),
        "call-centre",
    ),
    (
        "complaint",
        None,
        "complaint",
        names(
            "Complaint about our service",
            "Klagte oor ons diens",
            "Скарга на обслуговування",
            "Жалоба на обслуживание",
        ),
        (),
        False,
        False,
        "normal",
        (8, "working_hours"),
        (10, "working_days"),
        "call-centre",
    ),
    (
        "director-appeal",
        None,
        "appeal",
        names(
            "Appeal to the director",
            "Appèl aan die direkteur",
            "Звернення до директора",
            "Обращение к директору",
        ),
        (),
        False,
        False,
        "normal",
        (2, "working_days"),
        (30, "calendar_days"),
        "call-centre",
    ),
)

TEAMS = (
    (
        "call-centre",
        names("Call centre", "Inbelsentrum", "Кол-центр", "Колл-центр"),
        ("agent@demo.test",),
    ),
    ("revenue", names("Revenue", "Inkomste", "Розрахунки", "Расчёты"), ("revenue@demo.test",)),
    (
        "technical",
        names("Technical services", "Tegniese dienste", "Технічна служба", "Техническая служба"),
        ("specialist@demo.test",),
    ),
    (
        "service-centre",
        names("Service centre", "Dienssentrum", "Центр обслуговування", "Центр обслуживания"),
        ("centre@demo.test",),
    ),
)

WORKING_HOURS = {
    "za": dict.fromkeys(range(5), (("07:30", "16:00"),)),
    "ua": {**dict.fromkeys(range(5), (("08:00", "20:00"),))},
    "ru": dict.fromkeys(range(5), (("08:00", "17:00"),)),
}
