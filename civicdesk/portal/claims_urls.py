"""Portal pages: claims."""

urlpatterns: list = []
