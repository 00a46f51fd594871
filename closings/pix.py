"""The PIX "BR Code" (Pix Copia e Cola) of a static charge, and its QR code.

The payload follows the Central Bank's BR Code manual, which profiles EMV
QRCPS-MPM: a run of fields, each a 2-digit id, a 2-digit length and the value,
closed by a CRC16 over everything before it. Pure functions, no database.
"""

import datetime as dt
import io
import re
import unicodedata
from decimal import Decimal, localcontext

import segno

PIX_GUI = "br.gov.bcb.pix"
NAME_MAX_LENGTH = 25
CITY_MAX_LENGTH = 15
TXID_MAX_LENGTH = 25
# The manual's value for "this charge has no transaction id".
NO_TXID = "***"
AMOUNT_MAX_LENGTH = 13
FIELD_MAX_LENGTH = 99
TXID_PREFIX = "MC"

_TXID_SHAPE = re.compile(r"[A-Za-z0-9]{1,25}")
_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")
_SPACES = re.compile(r"\s+")
_CENT = Decimal("0.01")
# Field 54 holds at most 13 characters: ten digits, the dot and two decimals.
_AMOUNT_MAX = Decimal("9999999999.99")


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _bit in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc16_ccitt_false(data: bytes) -> int:
    """CRC16-CCITT-FALSE: polynomial 0x1021, init 0xFFFF, no reflection, no final xor."""
    crc = 0xFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[(crc >> 8) ^ byte]
    return crc


def ascii_fold(text: str, max_length: int) -> str:
    """Plain printable ASCII, single-spaced and trimmed, cut to max_length.

    Bank apps show the merchant name and city as they are; many of them choke
    on anything outside ASCII, so "São João" becomes "Sao Joao".
    """
    decomposed = unicodedata.normalize("NFKD", text or "")
    ascii_text = decomposed.encode("ascii", "ignore").decode("ascii")
    # Tabs and newlines become spaces before control characters are dropped.
    ascii_text = _PRINTABLE_ASCII.sub("", _SPACES.sub(" ", ascii_text))
    return _SPACES.sub(" ", ascii_text).strip()[:max_length].rstrip()


def txid_for(*, closing_id: int, month: dt.date) -> str:
    """The transaction id of a closing's charge: "MC" + YYYYMM + the closing's id.

    It lets the clinic match a payment in its bank statement to the closing.
    """
    if isinstance(closing_id, bool) or not isinstance(closing_id, int):
        raise TypeError("closing_id must be an int")
    if closing_id <= 0:
        raise ValueError("closing_id must be positive")
    txid = f"{TXID_PREFIX}{month.year:04d}{month.month:02d}{closing_id:08d}"
    if len(txid) > TXID_MAX_LENGTH:
        raise ValueError("closing_id is too large for a txid")
    return txid


def _field(field_id: str, value: str) -> str:
    if not value:
        raise ValueError(f"field {field_id} is empty")
    if _PRINTABLE_ASCII.search(value):
        raise ValueError(f"field {field_id} has characters outside printable ASCII")
    if len(value) > FIELD_MAX_LENGTH:
        raise ValueError(f"field {field_id} is longer than {FIELD_MAX_LENGTH} characters")
    return f"{field_id}{len(value):02d}{value}"


def _amount_text(amount: Decimal) -> str:
    # bool and int are refused too: money is always a Decimal here.
    if not isinstance(amount, Decimal):
        raise TypeError("amount must be a Decimal")
    if not amount.is_finite():
        raise ValueError("amount must be a finite number")
    if amount <= 0:
        raise ValueError("amount must be positive")
    if amount > _AMOUNT_MAX:
        raise ValueError(f"amount does not fit in {AMOUNT_MAX_LENGTH} characters")
    with localcontext(prec=28):  # not whatever precision the caller set
        cents = amount.quantize(_CENT)
    if cents != amount:
        raise ValueError("amount has more than two decimals")
    return f"{cents:f}"


def br_code(*, key: str, name: str, city: str, amount: Decimal | None, txid: str) -> str:
    """The "Pix Copia e Cola" text of a static charge to `key`.

    `key` goes in as given: the caller passes its canonical form (CPF/CNPJ
    characters only, lower-case e-mail, phone as +55..., lower-case UUID).
    `name` and `city` are folded to ASCII and cut to 25 and 15 characters.
    `amount` None leaves the amount for the payer to type. `txid` is up to 25
    letters and digits, or NO_TXID.
    """
    if not key or key != key.strip():
        raise ValueError("the PIX key is empty or has surrounding spaces")
    if txid != NO_TXID and not _TXID_SHAPE.fullmatch(txid or ""):
        raise ValueError(f"txid must be 1 to {TXID_MAX_LENGTH} letters and digits, or ***")
    merchant_name = ascii_fold(name, NAME_MAX_LENGTH)
    merchant_city = ascii_fold(city, CITY_MAX_LENGTH)
    if not merchant_name:
        raise ValueError("the merchant name is empty once folded to ASCII")
    if not merchant_city:
        raise ValueError("the merchant city is empty once folded to ASCII")

    payload = (
        _field("00", "01")
        + _field("26", _field("00", PIX_GUI) + _field("01", key))
        + _field("52", "0000")
        + _field("53", "986")
        + (_field("54", _amount_text(amount)) if amount is not None else "")
        + _field("58", "BR")
        + _field("59", merchant_name)
        + _field("60", merchant_city)
        + _field("62", _field("05", txid))
        + "6304"
    )
    return f"{payload}{crc16_ccitt_false(payload.encode('ascii')):04X}"


QR_SCALE = 4
QR_CLASS = "pix-qr"


def qr_svg(payload: str, *, title: str) -> str:
    """The payload as an inline SVG QR code, error correction M.

    It has role="img" and a <title> so screen readers name it, a viewBox so
    CSS can shrink it on a phone, and no style attributes (our CSP has no
    'unsafe-inline'). The white background keeps it scannable on a dark page.
    """
    if not title:
        raise ValueError("the QR code needs a title")
    code = segno.make(payload, error="m", micro=False, boost_error=False)
    out = io.BytesIO()
    code.save(
        out,
        kind="svg",
        scale=QR_SCALE,
        xmldecl=False,
        svgns=True,
        svgclass=QR_CLASS,
        title=title,
        omitsize=True,
        light="#fff",
        dark="#000",
        nl=False,
    )
    svg = out.getvalue().decode("utf-8")
    size = code.symbol_size(scale=QR_SCALE)[0]
    return svg.replace("<svg ", f'<svg role="img" width="{size}" height="{size}" ', 1)
