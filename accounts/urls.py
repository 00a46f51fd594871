from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from . import views

app_name = "accounts"

# Django's auth views keep their global names (login, logout, password_*), since
# Django's own templates and redirects look them up by those names.
auth_urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/change/",
        views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path(
        "accounts/password/reset/",
        views.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(success_url=reverse_lazy("password_reset_complete")),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]

urlpatterns = [
    path(
        "accounts/invite/<uidb64>/<token>/",
        views.InvitationAcceptView.as_view(),
        name="invitation_accept",
    ),
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path("people/doctors/", views.DoctorListView.as_view(), name="doctor_list"),
    path("people/doctors/new/", views.DoctorCreateView.as_view(), name="doctor_create"),
    path("people/doctors/<int:pk>/", views.DoctorDetailView.as_view(), name="doctor_detail"),
    path("people/doctors/<int:pk>/edit/", views.DoctorUpdateView.as_view(), name="doctor_update"),
    path("people/patients/", views.PatientListView.as_view(), name="patient_list"),
    path("people/patients/new/", views.PatientCreateView.as_view(), name="patient_create"),
    path("people/patients/<int:pk>/", views.PatientDetailView.as_view(), name="patient_detail"),
    path(
        "people/patients/<int:pk>/edit/", views.PatientUpdateView.as_view(), name="patient_update"
    ),
    path(
        "people/patients/<int:pk>/reassign/",
        views.PatientReassignView.as_view(),
        name="patient_reassign",
    ),
    path(
        "people/<int:pk>/deactivate/",
        views.UserActiveView.as_view(active=False),
        name="user_deactivate",
    ),
    path(
        "people/<int:pk>/reactivate/",
        views.UserActiveView.as_view(active=True),
        name="user_reactivate",
    ),
    path("people/<int:pk>/invitation/", views.InvitationView.as_view(), name="invitation"),
    path("people/<int:pk>/photo/", views.UserPhotoView.as_view(), name="photo"),
    path("session/", views.SessionView.as_view(), name="session"),
]
