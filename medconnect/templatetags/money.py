from decimal import ROUND_HALF_UP, Decimal

from django import template

register = template.Library()


@register.filter
def brl(value) -> str:
    """Format an amount as Brazilian reais: R$ 1.234,56 (negative: -R$ 1.234,56)."""
    if value is None or value == "":
        return ""
    amount = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    whole, cents = f"{abs(amount):.2f}".split(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{sign}R$\u00a0{'.'.join(groups)},{cents}"
