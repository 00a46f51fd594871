from django.dispatch import Signal

# Sent with `user` when a user loses access: deactivated, or given another
# role. Apps holding live connections for that user (the call sockets) close them.
access_revoked = Signal()
