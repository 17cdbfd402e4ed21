from rest_framework.routers import SimpleRouter

from civicdesk.cases import api

router = SimpleRouter(trailing_slash=False)
router.register("cases", api.CaseViewSet, basename="case")
router.register("categories", api.CategoryViewSet, basename="category")
router.register("teams", api.TeamViewSet, basename="team")
router.register("routing-rules", api.RoutingRuleViewSet, basename="routing-rule")
router.register("calls", api.CallViewSet, basename="call")

urlpatterns = router.urls
