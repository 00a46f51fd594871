"""The telemedicine consent term (CFM Resolution 2.314/2022).

The term is a legal text, kept as a versioned template in Portuguese rather
than as translatable strings: what a patient accepted must stay byte-for-byte
the same, so its SHA-256 is stored with each acceptance. A new wording is a
new file and a new version, and patients accept it again before their next call.
"""

import hashlib
from functools import cache

from django.template.loader import get_template

TERM_VERSION = "2026-11"
_TEMPLATE = f"rooms/consent/{TERM_VERSION}.html"


@cache
def term_text() -> str:
    return get_template(_TEMPLATE).template.source


def term_hash() -> str:
    return hashlib.sha256(term_text().encode("utf-8")).hexdigest()
