"""One open room per doctor and patient (a second "Open a room" returns the first).

Pairs that already have several open rooms keep the one used last; the others
are ended the way the stale-room sweep ends them, as long as no call ever
took place in them (so nothing billable is closed behind billing's back).
"""

from django.db import migrations, models
from django.db.models import Count
from django.utils import timezone


def end_duplicate_open_rooms(apps, schema_editor):
    Room = apps.get_model("rooms", "Room")
    Presence = apps.get_model("rooms", "Presence")
    pairs = (
        Room.objects.filter(status="open")
        .values("doctor", "patient")
        .annotate(count=Count("pk"))
        .filter(count__gt=1)
    )
    now = timezone.now()
    for pair in pairs:
        rooms = Room.objects.filter(
            status="open", doctor=pair["doctor"], patient=pair["patient"]
        ).order_by("-last_activity_at", "-pk")
        extra = [room.pk for room in rooms[1:] if room.call_started_at is None]
        Presence.objects.filter(room__in=extra).delete()
        Room.objects.filter(pk__in=extra).update(status="ended", ended_at=now)
        if rooms.count() > 1:
            raise RuntimeError(
                f"Doctor {pair['doctor']} and patient {pair['patient']} have several open "
                "rooms with calls in them: finish them (manage.py finalize_stale_rooms) "
                "and migrate again."
            )


class Migration(migrations.Migration):
    dependencies = [("rooms", "0002_call_model_names")]

    operations = [
        migrations.RunPython(end_duplicate_open_rooms, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="room",
            constraint=models.UniqueConstraint(
                condition=models.Q(status="open"),
                fields=("doctor", "patient"),
                name="rooms_one_open_room_per_pair",
            ),
        ),
    ]
