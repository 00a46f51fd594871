"""The period and doctor a billing report is about, read from the query string.

Reports are GET pages whose address can be shared and bookmarked, so anything
can arrive there: `?month=2026-13`, `?month=../`, a year 9999, a range that
ends before it starts, a doctor id that is not a number or comes twice. None of
it is an error page: the form says what was wrong and the report falls back to
its default period (the current local month) or to every doctor.
"""

import datetime as dt
import functools
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.utils import formats, translation
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User

from .charts import month_label
from .selectors import clinic_zone, local_today, month_bounds

FIRST_YEAR = 2000
# Long enough for any report a clinic asks for; short enough to stay a report.
MAX_RANGE_YEARS = 5
# ASCII digits only: \d would also take "٢٠٢٦-١٠".
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


@dataclass(frozen=True)
class Period:
    """Local calendar days `first`..`last` (inclusive), and the month when it is one."""

    first: dt.date
    last: dt.date
    month: dt.date | None = None

    @classmethod
    def of_month(cls, month: dt.date) -> "Period":
        month = month.replace(day=1)
        return cls(first=month, last=_next_month(month) - dt.timedelta(days=1), month=month)

    @property
    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """Aware start (inclusive) and end (exclusive), in the clinic's zone."""
        if self.month:
            return month_bounds(self.month)
        zone = clinic_zone()
        start = dt.datetime.combine(self.first, dt.time.min, tzinfo=zone)
        end = dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
        return start, end

    @property
    def params(self) -> dict[str, str]:
        if self.month:
            return {"month": f"{self.month:%Y-%m}"}
        return {"start": self.first.isoformat(), "end": self.last.isoformat()}

    @property
    def query(self) -> str:
        return urlencode(self.params)

    @property
    def label(self) -> str:
        if self.month:
            return month_label(self.month)
        return _("%(first)s to %(last)s") % {
            "first": formats.date_format(self.first, "SHORT_DATE_FORMAT"),
            "last": formats.date_format(self.last, "SHORT_DATE_FORMAT"),
        }

    @property
    def slug(self) -> str:
        """For file names: 2026-10, or 2026-10-01_2026-12-31."""
        if self.month:
            return f"{self.month:%Y-%m}"
        return f"{self.first.isoformat()}_{self.last.isoformat()}"

    @property
    def previous_month(self) -> dt.date | None:
        return (self.month - dt.timedelta(days=1)).replace(day=1) if self.month else None

    @property
    def next_month(self) -> dt.date | None:
        return _next_month(self.month) if self.month else None


def _next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


class _QueryForm(forms.Form):
    """A form over request.GET that refuses a parameter given more than once."""

    def __init__(self, data=None, **kwargs):
        super().__init__(data if data is not None else {}, **kwargs)
        self.repeated = {
            name for name in self.fields if hasattr(data, "getlist") and len(data.getlist(name)) > 1
        }

    def clean(self):
        data = super().clean()
        for name in sorted(self.repeated):
            self.add_error(
                name,
                forms.ValidationError(
                    _("“%(name)s” appears more than once in the address; give it once."),
                    code="repeated",
                    params={"name": name},
                ),
            )
        return data

    @property
    def problems(self) -> list[str]:
        """Every message, for the alert above the report."""
        if not self.is_bound or self.is_valid():
            return []
        return [str(message) for errors in self.errors.values() for message in errors]


def _year_in_range(value: dt.date, today: dt.date) -> bool:
    return FIRST_YEAR <= value.year <= today.year + 1


class MonthForm(_QueryForm):
    """?month=YYYY-MM, a local calendar month (default: the current one)."""

    month = forms.CharField(label=_("Month"), required=False)

    def __init__(self, data=None, *, today: dt.date | None = None, **kwargs):
        self.today = today or local_today()
        super().__init__(data, **kwargs)

    def clean_month(self):
        text = self.cleaned_data.get("month") or ""
        if not text:
            return None
        match = _MONTH.fullmatch(text.strip())
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise forms.ValidationError(
                _("“%(value)s” is not a month. Use year and month, such as 2026-10."),
                code="invalid_month",
                params={"value": text[:20]},
            )
        # The year is checked before it makes a date: year 0000 has none.
        year = int(match.group(1))
        if not FIRST_YEAR <= year <= self.today.year + 1:
            raise forms.ValidationError(
                _("Choose a month between %(first)d and %(last)d."),
                code="month_out_of_range",
                params={"first": FIRST_YEAR, "last": self.today.year + 1},
            )
        return dt.date(year, int(match.group(2)), 1)

    def default_period(self) -> Period:
        return Period.of_month(self.today)

    @property
    def period(self) -> Period:
        """The period asked for, or the default one when anything was wrong."""
        if self.is_valid() and self.cleaned_data.get("month"):
            return Period.of_month(self.cleaned_data["month"])
        return self.default_period()


class PeriodForm(MonthForm):
    """A month (?month=YYYY-MM) or a range of local days (?start=...&end=..., inclusive)."""

    start = forms.DateField(label=_("From"), required=False, input_formats=["%Y-%m-%d"])
    end = forms.DateField(label=_("To"), required=False, input_formats=["%Y-%m-%d"])

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if "start" in self.errors or "end" in self.errors:
            return data
        if bool(start) != bool(end):
            raise forms.ValidationError(
                _("Give both the first and the last day of the period."), code="half_range"
            )
        if not start:
            return data
        for name in ("start", "end"):
            if not _year_in_range(data[name], self.today):
                self.add_error(
                    name,
                    forms.ValidationError(
                        _("Choose a day between %(first)d and %(last)d."),
                        code="date_out_of_range",
                        params={"first": FIRST_YEAR, "last": self.today.year + 1},
                    ),
                )
                return data
        if start > end:
            raise forms.ValidationError(
                _("The first day comes after the last day."), code="inverted_range"
            )
        if end > _add_years(start, MAX_RANGE_YEARS):
            raise forms.ValidationError(
                _("Choose a period of at most %(years)d years."),
                code="range_too_long",
                params={"years": MAX_RANGE_YEARS},
            )
        return data

    @property
    def period(self) -> Period:
        if self.is_valid() and self.cleaned_data.get("start"):
            return Period(first=self.cleaned_data["start"], last=self.cleaned_data["end"])
        return super().period


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


class _DoctorChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.display_name


class RevenueForm(PeriodForm):
    """The revenue report: a period, and optionally one doctor (?doctor=<id>)."""

    doctor = _DoctorChoice(
        label=_("Doctor"),
        required=False,
        empty_label=_("Every doctor"),
        queryset=User.objects.filter(role=Role.DOCTOR).select_related("doctor_profile"),
        error_messages={
            "invalid_choice": _("That doctor does not exist. Showing every doctor."),
        },
    )

    @property
    def doctor_choice(self) -> User | None:
        if self.is_valid():
            return self.cleaned_data.get("doctor")
        return None

    @property
    def period(self) -> Period:
        # A bad doctor alone must not throw away a good period (and the other way round).
        if self.is_valid():
            return super().period
        good = {k: v for k, v in self.data.items() if k not in self.errors}
        fallback = PeriodForm(_single(self.data, good), today=self.today)
        return fallback.period if fallback.is_valid() else self.default_period()


def _single(data, good: dict):
    return {name: good[name] for name in ("month", "start", "end") if name in good}


class VoidForm(forms.Form):
    """The reason an admin voids a record (services.record_void checks its length)."""

    reason = forms.CharField(
        label=_("Reason for voiding"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=1000,
        help_text=_("A technical failure, a courtesy consultation… Kept with the record."),
        error_messages={"required": _("Say why the record is voided.")},
    )


def month_choices(*, today: dt.date, selected: dt.date | None, count: int = 60) -> tuple:
    """(value, label, selected) of the months a picker offers, newest first: the last `count`,
    and the selected one if it is older. A <select> rather than <input type=month>,
    which browsers draw in their own language, not the page's."""
    return _month_choices(today, selected, count, translation.get_language())


# Every report page builds the same 60 choices until the day or the language changes.
@functools.lru_cache(maxsize=64)
def _month_choices(today: dt.date, selected: dt.date | None, count: int, language: str) -> tuple:
    months = []
    month = today.replace(day=1)
    for _step in range(count):
        months.append(month)
        month = (month - dt.timedelta(days=1)).replace(day=1)
    if selected and selected not in months:
        months.append(selected)
        months.sort(reverse=True)
    return tuple((f"{m:%Y-%m}", month_label(m), m == selected) for m in months)
