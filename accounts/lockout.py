"""Login throttling with two limits: per (username, IP) and per IP across usernames.

django-axes applies one AXES_FAILURE_LIMIT to the largest count among its
lockout parameters, so it cannot lock a pair after 5 failures and an address
after 20. This handler keeps axes' per-pair lock and adds the per-IP one: an
address past AXES_IP_FAILURE_LIMIT failures within the cool-off counts as
locked for every username, which stops one password tried on many accounts.
"""

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


class SprayAwareAxesHandler(AxesDatabaseHandler):
    def get_failures(self, request, credentials=None) -> int:
        failures = super().get_failures(request, credentials)
        if self.ip_failures(request) >= settings.AXES_IP_FAILURE_LIMIT:
            return max(failures, get_failure_limit(request, credentials))
        return failures

    def ip_failures(self, request) -> int:
        attempts = AccessAttempt.objects.filter(
            ip_address=request.axes_ip_address,
            attempt_time__gte=get_cool_off_threshold(request),
        )
        return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
