"""Back-office pages: refunds."""

urlpatterns: list = []
