import factory
from factory.django import DjangoModelFactory

from accounts.models import DoctorProfile, PatientProfile, Role, User

PASSWORD = "Senha-de-teste-42"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"pessoa{n}@example.com")
    first_name = factory.Faker("first_name", locale="pt_BR")
    last_name = factory.Faker("last_name", locale="pt_BR")
    role = Role.PATIENT

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])


class AdminFactory(UserFactory):
    role = Role.ADMIN
    email = factory.Sequence(lambda n: f"admin{n}@example.com")


class DoctorFactory(UserFactory):
    role = Role.DOCTOR
    email = factory.Sequence(lambda n: f"medico{n}@example.com")
    profile = factory.RelatedFactory(
        "accounts.tests.factories.DoctorProfileFactory", factory_related_name="user"
    )


class DoctorProfileFactory(DjangoModelFactory):
    class Meta:
        model = DoctorProfile

    user = factory.SubFactory(DoctorFactory, profile=None)
    crm = factory.Sequence(lambda n: str(100000 + n))
    crm_state = "SP"
    specialty = "Clínica geral"


class PatientFactory(UserFactory):
    role = Role.PATIENT
    email = factory.Sequence(lambda n: f"paciente{n}@example.com")
    profile = factory.RelatedFactory(
        "accounts.tests.factories.PatientProfileFactory",
        factory_related_name="user",
        doctor=factory.SelfAttribute("..doctor"),
    )

    class Params:
        doctor = factory.SubFactory(DoctorFactory)


class PatientProfileFactory(DjangoModelFactory):
    class Meta:
        model = PatientProfile

    user = factory.SubFactory(PatientFactory, profile=None)
    doctor = factory.SubFactory(DoctorFactory)
