"""Who sees and acts on closings. The one place these rules are written.

Admins see every closing and act on the clinic's side (close, pay, cancel);
a doctor sees their own (not the cancelled ones, which pay nothing) and acts
on theirs (confirm receipt, report a problem). Patients see nothing.
"""

from django.db.models import QuerySet

from accounts.models import Role
from accounts.permissions import has_role

from .models import ClosingStatus, MonthlyClosing


def closings_visible_to(user) -> QuerySet[MonthlyClosing]:
    closings = MonthlyClosing.objects.select_related("doctor__doctor_profile")
    if has_role(user, Role.ADMIN):
        return closings
    if has_role(user, Role.DOCTOR):
        return closings.filter(doctor=user).exclude(status=ClosingStatus.CANCELLED)
    return closings.none()


def can_manage_closings(user) -> bool:
    return has_role(user, Role.ADMIN)


def can_confirm_receipt(user, closing: MonthlyClosing) -> bool:
    """The closing's own doctor, once the clinic has paid it."""
    return (
        has_role(user, Role.DOCTOR)
        and closing.doctor_id == user.pk
        and closing.status == ClosingStatus.PAID
    )
