from django.urls import path

from . import views

app_name = "closings"

urlpatterns = [
    path("closings/", views.ClosingListView.as_view(), name="list"),
    path("closings/close/", views.MonthCloseView.as_view(), name="close"),
    path("closings/pay/", views.BulkPayView.as_view(), name="bulk_pay"),
    path("closings/export.xlsx", views.MonthExportView.as_view(), name="export"),
    path("closings/<int:pk>/", views.ClosingDetailView.as_view(), name="detail"),
    path("closings/<int:pk>/pay/", views.ClosingPayView.as_view(), name="pay"),
    path("closings/<int:pk>/cancel/", views.ClosingCancelView.as_view(), name="cancel"),
    path("closings/<int:pk>/receive/", views.ClosingReceiveView.as_view(), name="receive"),
    path("closings/<int:pk>/problem/", views.ClosingProblemView.as_view(), name="problem"),
    path("closings/<int:pk>/statement.xlsx", views.StatementView.as_view(), name="statement"),
    path("my-payments/", views.MyPaymentsView.as_view(), name="mine"),
]
