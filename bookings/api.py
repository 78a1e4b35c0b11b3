"""Read-only API for vaccination sites, scoped like the pages."""

from django.urls import include, path
from rest_framework import routers, serializers, viewsets

from bookings.models import VaccinationSite


class VaccinationSiteSerializer(serializers.ModelSerializer):
    local_authorities = serializers.SlugRelatedField(
        slug_field="gss_code", many=True, read_only=True
    )

    class Meta:
        model = VaccinationSite
        fields = ["id", "name", "kind", "ods_code", "postcode", "local_authorities", "is_active"]


class VaccinationSiteViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = VaccinationSiteSerializer

    def get_queryset(self):
        return VaccinationSite.objects.visible_to(self.request.user).prefetch_related(
            "local_authorities"
        )


router = routers.SimpleRouter()
router.register("sites", VaccinationSiteViewSet, basename="api-site")
urlpatterns = [path("", include(router.urls))]
