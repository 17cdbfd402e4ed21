from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from civicdesk.core import views as core_views
from civicdesk.identity import views as identity_views

admin.site.site_header = "civicdesk"
admin.site.site_title = "civicdesk"
admin.site.index_title = "Operator administration"

api_v1 = [
    path("", include("civicdesk.identity.api_urls")),
    path("", include("civicdesk.notifications.api_urls")),
    path("", include("civicdesk.registry.api_urls")),
    path("", include("civicdesk.cases.api_urls")),
    path("", include("civicdesk.ledger.api_urls")),
    path("", include("civicdesk.metering.api_urls")),
    path("", include("civicdesk.tariffs.api_urls")),
    path("", include("civicdesk.billing.api_urls")),
]

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("i18n/setlang/", identity_views.set_language, name="set_language"),
    # The admin signs in through our login (password, then TOTP), never its own form.
    path("admin/login/", RedirectView.as_view(pattern_name="identity:login", query_string=True)),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("staff/cases/", include("civicdesk.cases.staff_urls")),
    path("staff/", include("civicdesk.backoffice.urls")),
    path("requests/", include("civicdesk.cases.portal_urls")),
    path("open311/v2/", include("civicdesk.cases.open311.urls")),
    path("pay/", include("civicdesk.ledger.urls")),
    path("", include("civicdesk.identity.urls")),
    path("calculators/", include("civicdesk.tariffs.urls")),
    path("", include("civicdesk.portal.urls")),
]

handler400 = "civicdesk.core.views.bad_request"
handler403 = "civicdesk.core.views.permission_denied"
handler404 = "civicdesk.core.views.not_found"
handler500 = "civicdesk.core.views.server_error"
