"""The lists the billing report and closing pages repeat line by line: the table of
billing records, the not-held list, the month picker's options, a chart's data table.

Their lines are written here, as the Django admin writes its change list rows:
the pages show up to 50 records and 100 voided ones, and as a template loop
each row was about 25 template nodes (130 µs), more than half of the page's
own time. A row is one f-string in which every value goes through `_e`
(html.escape, quotes included); format_html per cell still cost 90 µs a row.
The templates (billing/_records_table.html and the others) wrap them.
"""

from dataclasses import dataclass
from html import escape

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from accounts.models import short_datetime_writer
from rooms.models import duration_text

from .money import format_brl

AMOUNT = ' class="text-md-end text-nowrap"'


def _e(value) -> str:
    return escape(str(value), quote=True)


@dataclass(frozen=True)
class Column:
    label: str
    css: str = ""


@dataclass(frozen=True)
class RecordsTable:
    columns: list[Column]
    rows: list[SafeString]

    @property
    def body(self) -> SafeString:
        """Every row, for the template to print at once."""
        return mark_safe("\n".join(self.rows))  # noqa: S308 - rows are safe strings


def records_table(records, *, voided=False, actions=False, query="", csrf_token="") -> RecordsTable:
    """`records` (billing.selectors.listed's rows) as table rows; `voided` adds the
    reason, `actions` the admin's Void or Restore, which come back to the page with
    `query` (its period)."""
    when, patient, duration = gettext("Date and time"), gettext("Patient"), gettext("Duration")
    gross, share, net = gettext("Gross"), gettext("Clinic share"), gettext("Net")
    reason = gettext("Reason for voiding")
    columns = [Column(when), Column(patient), Column(duration)]
    columns += [
        Column(gross, "text-md-end"),
        Column(share, "text-md-end"),
        Column(net, "text-md-end"),
    ]
    if voided:
        columns.append(Column(reason))
    if actions:
        hidden = format_html('<span class="visually-hidden">{}</span>', gettext("Actions"))
        columns.append(Column(hidden, "billing-actions"))
    when, patient, duration = _e(when), _e(patient), _e(duration)
    gross, share, net, reason = _e(gross), _e(share), _e(net), _e(reason)
    action = _Actions(query, csrf_token) if actions else None
    written = short_datetime_writer()
    rows = []
    for record in records:
        ended = written(record.ended_at)
        name = _patient_name(record)
        row = (
            f'<tr><td data-label="{when}">{_e(ended)}</td>'
            f'<td data-label="{patient}">{_e(name)}</td>'
            f'<td data-label="{duration}">{_e(duration_text(int(record.seconds_together)))}</td>'
            f'<td data-label="{gross}"{AMOUNT}>{_e(format_brl(record.gross))}</td>'
            f'<td data-label="{share}"{AMOUNT}>{_e(format_brl(record.platform_amount))}</td>'
            f'<td data-label="{net}"{AMOUNT}>{_e(format_brl(record.doctor_amount))}</td>'
        )
        if voided:
            reason_cell = _void_reason(record, written)
            row += f'<td data-label="{reason}" class="billing-reason">{reason_cell}</td>'
        if action:
            row += action.cell(record, ended)
        rows.append(mark_safe(row + "</tr>"))  # noqa: S308 - every value above went through _e
    return RecordsTable(columns=columns, rows=rows)


def _full_name(first: str | None, last: str | None) -> str:
    """User.get_full_name() of a row's two columns."""
    return f"{first or ''} {last or ''}".strip()


def _patient_name(row) -> str:
    """The patient as the lists name them: their name, or their e-mail if they have none."""
    return _full_name(row.patient__first_name, row.patient__last_name) or row.patient__email


def _void_reason(record, written) -> str:
    text = _e(record.void_reason)
    if record.voided_at:
        who = gettext("by %(name)s on %(time)s") % {
            "name": _full_name(record.voided_by__first_name, record.voided_by__last_name),
            "time": written(record.voided_at),
        }
        text += f'<div class="small text-secondary">{_e(who)}</div>'
    return text


class _Actions:
    """The admin's Void link or Restore form, back to the page's period."""

    def __init__(self, query: str, csrf_token: str):
        self.query, self.csrf = _e(query), _e(csrf_token)
        self.void, self.restore = _e(gettext("Void")), _e(gettext("Restore"))
        self.void_url = _url_of("billing:record_void")
        self.restore_url = _url_of("billing:record_restore")

    def cell(self, record, ended: str) -> str:
        if record.voided_at:
            url = _e(self.restore_url(record.pk))
            action = (
                f'<form method="post" action="{url}?{self.query}" class="d-inline">'
                f'<input type="hidden" name="csrfmiddlewaretoken" value="{self.csrf}">'
                '<button type="submit" class="btn btn-sm btn-outline-success">'
                '<i class="bi bi-arrow-counterclockwise me-1" aria-hidden="true"></i>'
                f"{self.restore}</button></form>"
            )
        else:
            url = _e(self.void_url(record.pk))
            action = (
                f'<a class="btn btn-sm btn-outline-danger" href="{url}?{self.query}">'
                f'<i class="bi bi-slash-circle me-1" aria-hidden="true"></i>{self.void}'
                f'<span class="visually-hidden"> {_e(ended)}</span></a>'
            )
        return f'<td class="billing-actions text-md-end">{action}</td>'


def _url_of(name: str):
    """reverse(name, args=[pk]) for any pk, reversed once: a reverse costs 15 µs a row."""
    marker = "2147483647"
    head, found, tail = reverse(name, args=[int(marker)]).partition(marker)
    if not found:
        raise ValueError(f"{name} does not put its pk in the path")
    return lambda pk: f"{head}{int(pk)}{tail}"


def no_show_items(rooms) -> SafeString:
    """The "not held" list's lines (billing/_no_shows.html): billing.selectors'
    listed_no_shows rows, each with why nothing was billed."""
    written = short_datetime_writer()
    badge = f'<span class="badge badge-soft-warning">{_e(gettext("not held"))}</span>'
    never = _e(gettext("doctor and patient were never in the call together"))
    items = []
    for room in rooms:
        name = _patient_name(room)
        if room.call_started_at:
            together = duration_text(int(room.both_present_seconds))
            why = _e(
                gettext("together for only %(together)s, under the clinic's minimum")
                % {"together": together}
            )
        else:
            why = never
        items.append(
            f'<li><span class="text-nowrap">{_e(written(room.ended_at))}</span> · {_e(name)}'
            f' · {badge} <span class="small text-secondary">{why}</span></li>'
        )
    return mark_safe("\n".join(items))  # noqa: S308 - every value above went through _e


def month_options(choices) -> SafeString:
    """The <option>s of billing.filters.month_choices: 60 of them on every report page
    (as a template loop they cost 0.6 ms, with format_html 0.5)."""
    options = (
        f'<option value="{_e(value)}"{" selected" if selected else ""}>{_e(label)}</option>'
        for value, label, selected in choices
    )
    return mark_safe("".join(options))  # noqa: S308 - values and labels went through _e


def chart_rows(chart: dict) -> SafeString:
    """The rows of a chart's data table (billing/_chart.html): each month and its
    amounts, as screen readers and print read the chart."""
    rows = (
        f'<tr><th scope="row" class="fw-normal">{_e(row["label"])}</th>'
        + "".join(f'<td class="text-end">{_e(format_brl(value))}</td>' for value in row["values"])
        + "</tr>"
        for row in chart["rows"]
    )
    return mark_safe("\n".join(rows))  # noqa: S308 - labels and amounts went through _e
