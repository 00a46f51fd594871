"""Placeholder: being written (issue 9)."""

from django.http import Http404
from django.views import View


class _NotYet(View):
    def get(self, request, *args, **kwargs):
        raise Http404


RateListView = DefaultsView = DoctorRateView = RateHistoryView = _NotYet
