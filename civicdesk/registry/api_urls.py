from django.urls import path
from rest_framework.routers import SimpleRouter

from civicdesk.registry import api

router = SimpleRouter(trailing_slash=False)
router.register("providers", api.ProviderViewSet, basename="provider")
router.register("territories", api.TerritoryViewSet, basename="territory")
router.register("service-centres", api.ServiceCentreViewSet, basename="service-centre")
router.register("buildings", api.BuildingViewSet, basename="building")
router.register("premises", api.PremisesViewSet, basename="premises")
router.register("accounts", api.AccountViewSet, basename="account")
router.register("account-holders", api.HolderViewSet, basename="account-holder")
router.register("account-services", api.AccountServiceViewSet, basename="account-service")
router.register("account-links", api.LinkRequestViewSet, basename="account-link")

urlpatterns = [
    path("invitations/accept", api.InvitationAcceptView.as_view(), name="invitation-accept"),
    *router.urls,
]
