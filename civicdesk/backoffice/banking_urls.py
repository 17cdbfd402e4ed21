"""Back-office pages: banking."""

urlpatterns: list = []
