"""API: payments."""

urlpatterns: list = []
