from django.dispatch import Signal

# Sent with `user` when a user loses access: deactivated, or given another
# role. Apps holding live connections for that user (the call sockets) close them.
access_revoked = Signal()

# Sent with `user`, `kept_session_key` and `new_session_key` once a password
# changed. Django signs out every session but the one that changed it (none
# after a reset); apps holding live connections for the others close them.
password_changed = Signal()
