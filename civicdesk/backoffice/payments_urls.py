"""Back-office pages: payments."""

urlpatterns: list = []
