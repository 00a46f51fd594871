from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from accounts.signals import access_revoked, password_changed

from . import services


@receiver(user_logged_out)
def close_sockets_of_the_session(sender, request, user, **kwargs):
    if user is not None and request.session.session_key:
        services.access_revoke(user_id=user.pk, session_key=request.session.session_key)


@receiver(access_revoked)
def close_sockets_of_the_user(sender, user, **kwargs):
    services.access_revoke(user_id=user.pk)


@receiver(password_changed)
def close_sockets_of_the_other_sessions(sender, user, kept_session_key, new_session_key, **kw):
    if kept_session_key:
        services.access_revoke(
            user_id=user.pk, keep_session_key=kept_session_key, renamed_to=new_session_key
        )
    else:
        services.access_revoke(user_id=user.pk)
