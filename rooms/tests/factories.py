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
