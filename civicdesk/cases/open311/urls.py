"""Open311 GeoReport v2, mounted at /open311/v2/. Every resource ends in .json or .xml."""

from django.urls import re_path

from civicdesk.cases.open311 import api

app_name = "open311"

FORMAT = r"\.(?P<format>json|xml)$"

urlpatterns = [
    re_path(r"^discovery" + FORMAT, api.DiscoveryView.as_view(), name="discovery"),
    re_path(r"^services" + FORMAT, api.ServiceListView.as_view(), name="services"),
    re_path(
        r"^services/(?P<service_code>[^/]+)" + FORMAT,
        api.ServiceDefinitionView.as_view(),
        name="service",
    ),
    re_path(r"^requests" + FORMAT, api.RequestListView.as_view(), name="requests"),
    re_path(
        r"^requests/(?P<service_request_id>[^/]+)" + FORMAT,
        api.RequestDetailView.as_view(),
        name="request",
    ),
    re_path(r"^tokens/(?P<token>[^/]+)" + FORMAT, api.TokenView.as_view(), name="token"),
    re_path(r"", api.NotFoundView.as_view(), name="not_found"),  # the spec's 404, not ours
]
