"""Who sees and changes billing. The one place these rules are written.

Patients see nothing of billing; a doctor sees their own records and rate;
admins see and manage everything.
"""

from django.db.models import QuerySet

from accounts.models import Role
from accounts.permissions import has_role

from .models import BillingRecord


def records_visible_to(user) -> QuerySet[BillingRecord]:
    """Billing records this user may see: admins all, a doctor their own, others none."""
    records = BillingRecord.objects.all()
    if has_role(user, Role.ADMIN):
        return records
    if has_role(user, Role.DOCTOR):
        return records.filter(doctor=user)
    return records.none()


def can_manage_billing(user) -> bool:
    """Rates, the clinic's revenue, other doctors' records, voiding: admins only."""
    return has_role(user, Role.ADMIN)
