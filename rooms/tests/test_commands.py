import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from rooms.models import Room

pytestmark = pytest.mark.django_db


def test_finalize_stale_rooms_closes_only_rooms_idle_past_the_setting(room, settings):
    settings.STALE_ROOM_HOURS = 12
    Room.objects.filter(pk=room.pk).update(last_activity_at=timezone.now() - dt.timedelta(hours=13))
    out = StringIO()
    call_command("finalize_stale_rooms", stdout=out)
    assert "Finalized 1" in out.getvalue()
    room.refresh_from_db()
    assert room.status == "ended"
    assert room.ended_by is None
    call_command("finalize_stale_rooms", stdout=out)  # twice changes nothing
    assert "Finalized 0" in out.getvalue()


def test_finalize_stale_rooms_leaves_a_recent_room_open(room):
    Room.objects.filter(pk=room.pk).update(last_activity_at=timezone.now() - dt.timedelta(hours=1))
    call_command("finalize_stale_rooms", stdout=StringIO())
    room.refresh_from_db()
    assert room.status == "open"
    call_command("finalize_stale_rooms", "--hours", "0.5", stdout=StringIO())
    room.refresh_from_db()
    assert room.status == "ended"


@pytest.mark.parametrize("hours", ["0", "-3", "abc"])
def test_finalize_stale_rooms_refuses_a_bad_idle_time_and_changes_nothing(room, hours):
    Room.objects.filter(pk=room.pk).update(last_activity_at=timezone.now() - dt.timedelta(days=2))
    with pytest.raises(CommandError):
        call_command("finalize_stale_rooms", "--hours", hours, stdout=StringIO())
    room.refresh_from_db()
    assert room.status == "open"
