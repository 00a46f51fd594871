from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from accounts.urls import auth_urlpatterns

from . import views

admin.site.site_header = _("MedConnect back office")
admin.site.site_title = "MedConnect"
admin.site.index_title = _("Clinic administration")

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("healthz", login_not_required(views.HealthView.as_view()), name="healthz"),
    path("admin/", admin.site.urls),
    path("admin-tools/reset/", views.DatabaseResetView.as_view(), name="database_reset"),
    *auth_urlpatterns,
    path("", include("accounts.urls")),
    path("", include("rooms.urls")),
    path("", include("clinical.urls")),
    path("", include("billing.urls")),
    path("", include("closings.urls")),
]

handler403 = "medconnect.views.error_403"
handler404 = "medconnect.views.error_404"
handler500 = "medconnect.views.error_500"
