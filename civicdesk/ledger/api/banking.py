"""API: banking."""

urlpatterns: list = []
