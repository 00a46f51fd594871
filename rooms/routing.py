from channels.auth import AuthMiddleware
from django.urls import path

from . import consumers

# Served under Channels' cookie and session middleware (medconnect/asgi.py).
# The signaling consumer reads the session's user in its one database trip of
# admission; the notification socket gets scope["user"] from AuthMiddleware.
websocket_urlpatterns = [
    path("ws/rooms/<str:code>/", consumers.SignalingConsumer.as_asgi()),
    path("ws/notifications/", AuthMiddleware(consumers.NotificationConsumer.as_asgi())),
]
