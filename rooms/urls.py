from django.urls import path

from . import views

app_name = "rooms"

urlpatterns = [
    path("rooms/new/<int:patient_pk>/", views.RoomCreateView.as_view(), name="create"),
    path("rooms/<str:code>/", views.RoomSummaryView.as_view(), name="summary"),
    path("r/<str:code>/", views.RoomJoinView.as_view(), name="join"),
    path("r/<str:code>/consent/", views.ConsentView.as_view(), name="consent"),
    path("r/<str:code>/finish/", views.RoomFinishView.as_view(), name="finish"),
]
