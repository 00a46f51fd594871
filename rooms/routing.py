from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/rooms/<str:code>/", consumers.SignalingConsumer.as_asgi()),
    path("ws/notifications/", consumers.NotificationConsumer.as_asgi()),
]
