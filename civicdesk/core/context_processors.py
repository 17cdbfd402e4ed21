from django.conf import settings
from django.db import DatabaseError


def site(request):
    from civicdesk.registry.selectors import operator_get

    if hasattr(request, "operator"):  # OperatorTimezoneMiddleware looked it up already
        operator = request.operator
    else:
        try:
            operator = operator_get()
        except DatabaseError:  # error pages must render even when the database is down
            operator = None
    return {"operator": operator, "demo_mode": not settings.PRODUCTION}
