from django import template
from django.urls import reverse

from accounts.validators import format_cpf, mask_cpf, mask_pix_key

register = template.Library()


@register.inclusion_tag("includes/_avatar.html")
def avatar(person, size=""):
    """The person's photo, or their initials on a colour derived from their name."""
    photo_url = ""
    if person.photo:
        # The file name is random and changes with every upload: a cache buster.
        version = person.photo.name.rsplit("/", 1)[-1][:8]
        photo_url = f"{reverse('accounts:photo', args=[person.pk])}?v={version}"
    return {"person": person, "size": size, "photo_url": photo_url}


@register.filter
def phone(value: str) -> str:
    """+5511987654321 -> (11) 98765-4321."""
    if not value or not value.startswith("+55") or len(value) not in (13, 14):
        return value
    area, number = value[3:5], value[5:]
    return f"({area}) {number[:-4]}-{number[-4:]}"


@register.filter
def cpf(value: str) -> str:
    return format_cpf(value) if value else ""


@register.filter
def cpf_masked(value: str) -> str:
    return mask_cpf(value) if value else ""


@register.filter
def pix_masked(profile) -> str:
    return mask_pix_key(profile.pix_key_type, profile.pix_key)
