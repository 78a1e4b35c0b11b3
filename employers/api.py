"""Read-only API for employers, scoped like the pages."""

from django.urls import include, path
from rest_framework import routers, serializers, viewsets

from employers.models import Employer


class EmployerSerializer(serializers.ModelSerializer):
    local_authority = serializers.SlugRelatedField(slug_field="gss_code", read_only=True)

    class Meta:
        model = Employer
        fields = ["id", "name", "kind", "cqc_location_id", "postcode", "local_authority", "status"]


class EmployerViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = EmployerSerializer

    def get_queryset(self):
        return Employer.objects.visible_to(self.request.user).select_related("local_authority")


router = routers.SimpleRouter()
router.register("employers", EmployerViewSet, basename="api-employer")
urlpatterns = [path("", include(router.urls))]
