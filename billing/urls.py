from django.urls import path

from .views import rates, reports

app_name = "billing"

urlpatterns = [
    # The doctor's own earnings (admins are sent to the clinic's revenue).
    path("billing/", reports.DoctorBillingView.as_view(), name="doctor_billing"),
    path("billing/revenue/", reports.RevenueView.as_view(), name="revenue"),
    path("billing/revenue/export.xlsx", reports.RevenueExportView.as_view(), name="revenue_export"),
    path(
        "billing/revenue/doctors/<int:pk>/",
        reports.RevenueDoctorView.as_view(),
        name="revenue_doctor",
    ),
    path("billing/records/<int:pk>/void/", reports.RecordVoidView.as_view(), name="record_void"),
    path(
        "billing/records/<int:pk>/restore/",
        reports.RecordRestoreView.as_view(),
        name="record_restore",
    ),
    path("billing/rates/", rates.RateListView.as_view(), name="rates"),
    path("billing/rates/defaults/", rates.DefaultsView.as_view(), name="rates_defaults"),
    path("billing/rates/doctors/<int:pk>/", rates.DoctorRateView.as_view(), name="doctor_rate"),
    path("billing/rates/history/", rates.RateHistoryView.as_view(), name="rate_history"),
]
