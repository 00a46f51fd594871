import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.tests.factories import DoctorFactory, PatientFactory
from rooms import consent
from rooms.models import Room, TelemedicineConsent
from rooms.services import room_code


class RoomFactory(DjangoModelFactory):
    class Meta:
        model = Room

    code = factory.LazyFunction(room_code)
    doctor = factory.SubFactory(DoctorFactory)
    patient = factory.SubFactory(PatientFactory, doctor=factory.SelfAttribute("..doctor"))


class ConsentFactory(DjangoModelFactory):
    class Meta:
        model = TelemedicineConsent

    version = consent.TERM_VERSION
    text_hash = factory.LazyFunction(consent.term_hash)
    accepted_at = factory.LazyFunction(timezone.now)
    ip_address = "127.0.0.1"
    user_agent = "pytest"


def signed_in_session(user, *, backend="django.contrib.auth.backends.ModelBackend"):
    """A saved session of `user` as django.contrib.auth.login leaves it."""
    from django.contrib import auth
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[auth.SESSION_KEY] = str(user.pk)
    session[auth.BACKEND_SESSION_KEY] = backend
    session[auth.HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session
