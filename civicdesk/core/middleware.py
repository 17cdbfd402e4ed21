from django.utils import timezone

# Nothing under these paths shows a time; the schema is served without touching the database.
SKIP_PREFIXES = ("/static/", "/healthz", "/api/schema/")


class OperatorTimezoneMiddleware:
    """Pages show times in the operator's timezone; the database and logs stay in UTC."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(SKIP_PREFIXES):
            return self.get_response(request)
        from django.db import DatabaseError

        from civicdesk.registry.selectors import operator_get

        try:
            operator = operator_get()
        except DatabaseError:  # /healthz must answer even when the database is down
            operator = None
        request.operator = operator
        if operator is not None:
            timezone.activate(operator.timezone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
