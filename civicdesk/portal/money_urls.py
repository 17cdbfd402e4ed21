"""Portal pages: money."""

urlpatterns: list = []
