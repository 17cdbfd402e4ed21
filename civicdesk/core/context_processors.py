from django.conf import settings
from django.db import DatabaseError


def site(request):
    from civicdesk.registry.selectors import operator_get

    try:
        operator = operator_get()
    except DatabaseError:  # error pages must render even when the database is down
        operator = None
    return {"operator": operator, "demo_mode": not settings.PRODUCTION}
