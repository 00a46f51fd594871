"""A demo clinic: an admin, three doctors with PIX keys, a dozen patients, some history,
and about six months of billed consultations."""

import datetime as dt
import random
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts import services
from accounts.models import User
from billing import services as billing_services
from billing.models import BillingRecord
from clinical import services as clinical_services
from closings import services as closings_services
from rooms import services as rooms_services
from rooms.models import Room

DEMO_PASSWORD = "medconnect-demo"  # noqa: S105 - printed for the demo on purpose

ADMIN = {"email": "admin@medconnect.local", "first_name": "Helena", "last_name": "Martins"}

DOCTORS = [
    {
        "email": "ana.souza@medconnect.local", "first_name": "Ana", "last_name": "Souza",
        "title": "dra", "crm": "123456", "crm_state": "SP", "specialty": "Clínica médica",
        "phone": "+5511987654321", "pix": ("email", "ana.souza@medconnect.local"),
    },
    {
        "email": "ricardo.alves@medconnect.local", "first_name": "Ricardo", "last_name": "Alves",
        "title": "dr", "crm": "654321", "crm_state": "RJ", "specialty": "Cardiologia",
        "phone": "+5521998765432", "pix": ("cpf", "52998224725"),
    },
    {
        "email": "juliana.rocha@medconnect.local", "first_name": "Juliana", "last_name": "Rocha",
        "title": "dra", "crm": "246810", "crm_state": "MG", "specialty": "Pediatria",
        "phone": "+5531991234567", "pix": ("random", "7d9f3c2a-5b1e-4f6a-9c8d-0e1f2a3b4c5d"),
    },
]  # fmt: skip

PATIENTS = [
    ("Carlos", "Pereira", "1980-03-14", "11144477735"),
    ("Mariana", "Oliveira", "1992-07-02", ""),
    ("João", "Santos", "1975-11-23", "39053344705"),
    ("Beatriz", "Ferreira", "2001-01-30", ""),
    ("Lucas", "Rodrigues", "1988-05-17", ""),
    ("Fernanda", "Almeida", "1969-09-09", ""),
    ("Gabriel", "Nascimento", "2015-04-11", ""),
    ("Larissa", "Carvalho", "1995-12-05", ""),
    ("Rafael", "Gomes", "1983-08-28", ""),
    ("Camila", "Ribeiro", "1990-02-19", ""),
    ("Pedro", "Barbosa", "1958-06-03", ""),
    ("Aline", "Cardoso", "2012-10-21", ""),
]


# Past consultations of the first patients: (patient index, days ago, minutes
# together, evolution text). Carlos's first evolution is later corrected.
HISTORY = [
    (0, 41, 18, {
        "notes": "Tosse seca há 10 dias, pior à noite. Sem febre.\nAusculta com sibilos esparsos.",
        "diagnosis": "Asma leve intermitente", "diagnosis_code": "J45.2",
        "prescription": "Salbutamol spray 100 mcg\n2 jatos se falta de ar, até 4 vezes ao dia.",
    }),
    (0, 9, 12, {
        "notes": "Retorno. Melhora importante da tosse; usou o spray 3 vezes na semana.",
        "diagnosis": "Asma controlada",
    }),
    (1, 20, 25, {
        "notes": "Dor de cabeça latejante, 2 crises por mês, com náusea.",
        "diagnosis": "Enxaqueca sem aura", "diagnosis_code": "G43.0",
        "prescription": "Dipirona 1 g\n1 comprimido na crise, até de 6 em 6 horas.",
    }),
    (2, 14, 30, {
        "notes": "Pressão medida em casa entre 14x9 e 15x9 na última semana.",
        "diagnosis": "Hipertensão arterial", "diagnosis_code": "I10",
        "prescription": "Losartana 50 mg\n1 comprimido pela manhã, uso contínuo.",
    }),
]  # fmt: skip


class Command(BaseCommand):
    help = "Creates a demo clinic and prints its logins. Refuses if there are users already."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Add the demo clinic even if users exist."
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing (and succeed) when the database already has users.",
        )

    def handle(self, *args, force=False, if_empty=False, **options):
        if User.objects.exists() and not force:
            if if_empty:
                self.stdout.write("The database already has users; demo data not loaded.")
                self.print_logins()
                return
            raise CommandError(
                "The database already has users. Use --force to add the demo clinic beside "
                f"them, or start from an empty database: {self.how_to_start_empty()}"
            )
        if User.objects.filter(email__in=[ADMIN["email"]] + [d["email"] for d in DOCTORS]).exists():
            raise CommandError("The demo clinic is already loaded.")
        with transaction.atomic():
            self.create()
        self.stdout.write(self.style.SUCCESS("Demo clinic created."))
        self.print_logins()

    @staticmethod
    def how_to_start_empty() -> str:
        database = settings.DATABASES["default"]
        if database["ENGINE"].endswith("sqlite3"):
            return f"stop the server, move {database['NAME']} aside and run `make run` again."
        return f"drop and create the database {database['NAME']}, then run `make run` again."

    def create(self):
        admin = User.objects.create_superuser(password=DEMO_PASSWORD, **ADMIN)
        doctors = []
        self.patients = []
        for data in DOCTORS:
            data = dict(data)
            pix_type, pix_key = data.pop("pix")
            doctor = services.doctor_create(**data)
            doctor.set_password(DEMO_PASSWORD)
            doctor.save(update_fields=["password"])
            services.pix_key_set(doctor=doctor, key_type=pix_type, key=pix_key)
            doctors.append(doctor)
        for i, (first, last, born, cpf) in enumerate(PATIENTS):
            doctor = doctors[i % len(doctors)]
            patient = services.patient_create(
                created_by=doctor if i % 2 else admin,
                doctor=doctor,
                email=f"{first}.{last}@example.com".lower().replace("ã", "a"),
                first_name=first,
                last_name=last,
                phone=f"+55119{87650000 + i:08d}",
                birth_date=dt.date.fromisoformat(born),
                cpf=cpf,
            )
            # Most demo patients can sign in; the last two still have a pending invitation.
            if i < len(PATIENTS) - 2:
                patient.set_password(DEMO_PASSWORD)
                patient.save(update_fields=["password"])
            if i == 0:
                rooms_services.consent_accept(patient=patient, ip_address=None, user_agent="demo")
            self.patients.append(patient)
        # Dr. Ricardo charges his own fee, from before any consultation was held.
        billing_services.doctor_rate_update(
            by=admin,
            doctor=doctors[1],
            consultation_fee=Decimal("220.00"),
            platform_percentage=None,
        )
        self.create_history()
        self.create_billing_history(admin, doctors)
        self.create_closings(admin, doctors)
        # Carlos has accepted the telemedicine term and has a room open with
        # Dra. Ana: the demo call is one click away for both. Opened after his
        # history, since opening a room returns the one already open.
        carlos = self.patients[0]
        self.demo_room = rooms_services.room_create(
            doctor=carlos.patient_profile.doctor, patient=carlos
        )

    def create_history(self):
        """Finished consultations with their evolutions, so the charts have something to show."""
        now = timezone.now()
        for index, days_ago, minutes, text in HISTORY:
            patient = self.patients[index]
            doctor = patient.patient_profile.doctor
            started = now - dt.timedelta(days=days_ago, hours=2)
            room = self.past_consultation(doctor, patient, started, minutes)
            ended = room.ended_at
            evolution = clinical_services.evolution_write(
                doctor=doctor, patient=patient, room=room, at=ended, **text
            )
            if (index, days_ago) == (0, 41):
                clinical_services.evolution_amend(
                    evolution=evolution,
                    author=doctor,
                    reason="Dose máxima diária ajustada.",
                    at=ended + dt.timedelta(hours=3),
                    **{**text, "prescription": text["prescription"].replace("4 vezes", "3 vezes")},
                )

    def create_billing_history(self, admin, doctors):
        """About six months of billed consultations per doctor, so the billing pages and
        their charts are full on the first run; one consultation is voided and one is a
        no-show. Seeded, so every run is the same."""
        rng = random.Random(2026)
        now = timezone.now()
        rooms = []
        for doctor in doctors:
            patients = [p for p in self.patients if p.patient_profile.doctor_id == doctor.pk]
            for days_ago in range(182, -1, -1):
                # About one weekday in four (more in the current month, so this month's
                # dashboard cards have something), between 8:00 and 17:30 local time.
                day = timezone.localtime(now) - dt.timedelta(days=days_ago)
                odds = 0.6 if day.month == timezone.localtime(now).month else 0.27
                if day.weekday() >= 5 or rng.random() > odds:
                    continue
                started = day.replace(hour=rng.randint(8, 17), minute=rng.choice((0, 30)))
                if started > now - dt.timedelta(hours=1):
                    continue
                rooms.append(
                    self.past_consultation(
                        doctor, rng.choice(patients), started, rng.randint(12, 40)
                    )
                )
        no_show_patient = self.patients[1]
        self.past_consultation(
            no_show_patient.patient_profile.doctor,
            no_show_patient,
            (timezone.localtime(now) - dt.timedelta(days=16)).replace(hour=10, minute=0),
            minutes=0,
        )
        voided = BillingRecord.objects.filter(room=rooms[len(rooms) // 2]).get()
        billing_services.record_void(
            record=voided,
            by=admin,
            reason="Falha técnica: a chamada caiu e a consulta foi refeita sem custo.",
        )

    def create_closings(self, admin, doctors):
        """The months before last are closed, paid and confirmed; the month before this
        one is paid and awaits the doctors' confirmation; last month is left for the admin
        to close (the first thing the Fechamentos page offers)."""
        last = closings_services.last_closable_month()
        month = (last - dt.timedelta(days=1)).replace(day=1)
        months = []
        for _ in range(5):
            months.append(month)
            month = (month - dt.timedelta(days=1)).replace(day=1)
        for index, month in enumerate(reversed(months)):
            paid_on = (month + dt.timedelta(days=35)).replace(day=5)
            for closing in closings_services.month_close(month=month, by=admin).created:
                closing = closings_services.closing_confirm_payment(
                    closing=closing, by=admin, paid_on=paid_on
                )
                if index < len(months) - 1:
                    closings_services.closing_confirm_receipt(closing=closing, by=closing.doctor)

    def past_consultation(self, doctor, patient, started, minutes):
        """A room that was held (or, with 0 minutes, never joined) and finished at `started`
        + `minutes`, registered for billing the way a real one is, then dated back."""
        if rooms_services.consent_current(patient=patient) is None:
            rooms_services.consent_accept(patient=patient, ip_address=None, user_agent="demo")
        room = rooms_services.room_create(doctor=doctor, patient=patient)
        ended = started + dt.timedelta(minutes=minutes or 10)
        Room.objects.filter(pk=room.pk).update(
            created_at=started - dt.timedelta(minutes=4),
            call_started_at=started if minutes else None,
            both_present_seconds=minutes * 60,
        )
        room.refresh_from_db()
        rooms_services.room_finalize(room=room, by=doctor)
        Room.objects.filter(pk=room.pk).update(ended_at=ended, last_activity_at=ended)
        BillingRecord.objects.filter(room=room).update(ended_at=ended, created_at=ended)
        room.refresh_from_db()
        return room

    def print_logins(self):
        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING(f"Demo logins (password: {DEMO_PASSWORD})"))
        rows = [("admin", ADMIN["email"])]
        rows += [("doctor", d["email"]) for d in DOCTORS]
        rows += [
            ("patient", "carlos.pereira@example.com"),
            ("patient", "mariana.oliveira@example.com"),
        ]
        for role, email in rows:
            if User.objects.filter(email=email).exists():
                self.stdout.write(f"  {role:8} {email}")
        room = getattr(self, "demo_room", None)
        if room is not None:
            self.stdout.write(f"  open consultation room (Ana and Carlos): /r/{room.code}/")
        self.stdout.write("")
