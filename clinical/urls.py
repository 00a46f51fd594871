from django.urls import path

from . import views

app_name = "clinical"

urlpatterns = [
    path("records/<int:pk>/", views.ChartView.as_view(), name="chart"),
    path("records/<int:pk>/print/", views.ChartPrintView.as_view(), name="chart_print"),
    path(
        "records/<int:pk>/evolutions/new/",
        views.EvolutionCreateView.as_view(),
        name="evolution_create",
    ),
    path(
        "records/<int:pk>/emergency-access/",
        views.EmergencyAccessView.as_view(),
        name="emergency_access",
    ),
    path("records/<int:pk>/access-log/", views.AccessLogView.as_view(), name="access_log"),
    path("records/evolutions/<int:pk>/", views.EvolutionDetailView.as_view(), name="evolution"),
    path(
        "records/evolutions/<int:pk>/amend/",
        views.EvolutionAmendView.as_view(),
        name="evolution_amend",
    ),
    path(
        "records/evolutions/<int:pk>/prescription/",
        views.PrescriptionPrintView.as_view(),
        name="prescription_print",
    ),
    path("r/<str:code>/evolutions/", views.CallEvolutionView.as_view(), name="call_evolution"),
    path("my-record/", views.MyRecordView.as_view(), name="my_record"),
    path("my-record/print/", views.MyRecordPrintView.as_view(), name="my_record_print"),
    path("my-record/export/", views.MyRecordExportView.as_view(), name="my_record_export"),
    path("my-record/access/", views.MyAccessLogView.as_view(), name="my_access_log"),
]
