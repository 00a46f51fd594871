"""Create the app's benchmark people, rooms, consents and logged-in sessions.

Run by bench/signaling.py in a subprocess, from the repository root, with
DATA_DIR pointing at a scratch folder whose database is already migrated:

    python bench/signaling_support/app_fixtures.py ROOMS OUT.json

Writes [{"code": ..., "doctor": sessionid, "patient": sessionid}, ...]: one
entry per room, a doctor and a patient (with a current telemedicine consent)
each, and a session per participant as the login view would leave it.
"""

import datetime as dt
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medconnect.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.contrib.sessions.models import Session  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402

from accounts.models import DoctorProfile, PatientProfile, Role, User  # noqa: E402
from rooms import consent  # noqa: E402
from rooms.models import Room, TelemedicineConsent  # noqa: E402
from rooms.services import room_code  # noqa: E402

BACKEND = "django.contrib.auth.backends.ModelBackend"
KEY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def build(rooms: int) -> list[dict]:
    now = timezone.now()
    # An unusable password: nobody logs in with it, and no slow hashing here.
    password = make_password(None)
    with transaction.atomic():
        doctors = User.objects.bulk_create(
            User(
                email=f"bench-doctor{i}@example.com",
                first_name="Bench",
                last_name=f"Doctor {i}",
                role=Role.DOCTOR,
                password=password,
            )
            for i in range(rooms)
        )
        patients = User.objects.bulk_create(
            User(
                email=f"bench-patient{i}@example.com",
                first_name="Bench",
                last_name=f"Patient {i}",
                role=Role.PATIENT,
                password=password,
            )
            for i in range(rooms)
        )
        DoctorProfile.objects.bulk_create(
            DoctorProfile(user=d, title="dr", crm=str(500000 + i), crm_state="SP")
            for i, d in enumerate(doctors)
        )
        PatientProfile.objects.bulk_create(
            PatientProfile(user=p, doctor=d) for d, p in zip(doctors, patients, strict=True)
        )
        TelemedicineConsent.objects.bulk_create(
            TelemedicineConsent(
                patient=p,
                version=consent.TERM_VERSION,
                text_hash=consent.term_hash(),
                accepted_at=now,
                ip_address="127.0.0.1",
                user_agent="bench",
            )
            for p in patients
        )
        codes = set()
        while len(codes) < rooms:
            codes.add(room_code())
        room_rows = Room.objects.bulk_create(
            Room(code=code, doctor=d, patient=p)
            for code, d, p in zip(sorted(codes), doctors, patients, strict=True)
        )
        store = SessionStore()
        sessions, keys = [], {}
        for user in (*doctors, *patients):
            key = get_random_string(32, KEY_CHARS)
            keys[user.pk] = key
            data = {
                "_auth_user_id": str(user.pk),
                "_auth_user_backend": BACKEND,
                "_auth_user_hash": user.get_session_auth_hash(),
            }
            sessions.append(
                Session(
                    session_key=key,
                    session_data=store.encode(data),
                    expire_date=now + dt.timedelta(days=1),
                )
            )
        Session.objects.bulk_create(sessions)
    return [
        {"code": r.code, "doctor": keys[r.doctor_id], "patient": keys[r.patient_id]}
        for r in room_rows
    ]


if __name__ == "__main__":
    count, out = int(sys.argv[1]), Path(sys.argv[2])
    out.write_text(json.dumps(build(count)))
