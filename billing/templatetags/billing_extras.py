from django import template
from django.utils.translation import gettext

from billing.charts import month_label

register = template.Library()


@register.filter
def minutes(seconds) -> str:
    """Time both were present, as people say it: "32 min", "1 h 05 min" (as rooms says it)."""
    if seconds in (None, ""):
        return ""
    total = round(int(seconds) / 60)
    if total < 1:
        return gettext("less than a minute")
    hours, rest = divmod(total, 60)
    if hours:
        return gettext("%(h)d h %(m)02d min") % {"h": hours, "m": rest}
    return gettext("%(m)d min") % {"m": rest}


@register.filter
def month(value) -> str:
    """A local month as people write it: "outubro de 2026"."""
    if not value:
        return ""
    return month_label(value)
