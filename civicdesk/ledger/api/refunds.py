"""API: refunds."""

urlpatterns: list = []
