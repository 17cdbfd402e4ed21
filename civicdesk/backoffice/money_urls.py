"""Back-office pages: money."""

urlpatterns: list = []
