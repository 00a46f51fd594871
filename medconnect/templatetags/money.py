from django import template

from billing.money import format_brl, format_percentage

register = template.Library()


@register.filter
def brl(value) -> str:
    """Format an amount as Brazilian reais: R$ 1.234,56 (negative: -R$ 1.234,56)."""
    if value is None or value == "":
        return ""
    return format_brl(value)


@register.filter
def percentage(value) -> str:
    """A share as people write it: 30 %, 33,33 %."""
    if value is None or value == "":
        return ""
    return format_percentage(value)
