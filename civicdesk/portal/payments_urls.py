"""Portal pages: payments."""

urlpatterns: list = []
