"""The PIX BR Code and its QR code, checked against the manual and an independent CRC."""

import binascii
import datetime as dt
import re
from decimal import Decimal

import pytest
import segno
from django.conf import settings
from PIL import Image

from accounts.models import PixKeyType
from accounts.validators import PIX_EMAIL_MAX_LENGTH, clean_pix_email, clean_pix_key
from closings import pix

MANUAL_EXAMPLE = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
    "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)


def bitwise_crc(data: bytes) -> int:
    """CRC16-CCITT-FALSE bit by bit, written apart from the module's table."""
    crc = 0xFFFF
    for byte in data:
        for bit in range(7, -1, -1):
            top = (crc >> 15) ^ ((byte >> bit) & 1)
            crc = ((crc << 1) & 0xFFFF) ^ (0x1021 if top else 0)
    return crc


def parse_tlv(text: str) -> dict[str, str]:
    fields = {}
    position = 0
    while position < len(text):
        field_id, length = text[position : position + 2], int(text[position + 2 : position + 4])
        value = text[position + 4 : position + 4 + length]
        assert len(value) == length, f"field {field_id} runs past the end"
        assert field_id not in fields, f"field {field_id} twice"
        fields[field_id] = value
        position += 4 + length
    return fields


def check_crc(code: str) -> None:
    body, crc = code[:-4], code[-4:]
    assert body.endswith("6304")
    assert re.fullmatch(r"[0-9A-F]{4}", crc)
    assert int(crc, 16) == bitwise_crc(body.encode("ascii"))
    assert int(crc, 16) == binascii.crc_hqx(body.encode("ascii"), 0xFFFF)


# --- CRC -------------------------------------------------------------------------


def test_crc_matches_the_catalogued_check_value():
    # The check value of CRC-16/CCITT-FALSE over "123456789".
    assert pix.crc16_ccitt_false(b"123456789") == 0x29B1
    assert bitwise_crc(b"123456789") == 0x29B1
    assert binascii.crc_hqx(b"123456789", 0xFFFF) == 0x29B1


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff\xff", b"6304", MANUAL_EXAMPLE.encode()])
def test_crc_agrees_with_an_independent_implementation(data):
    assert pix.crc16_ccitt_false(data) == bitwise_crc(data)


# --- The payload -----------------------------------------------------------------


def test_reproduces_the_manuals_example_byte_for_byte():
    code = pix.br_code(
        key="123e4567-e12b-12d1-a456-426655440000",
        name="Fulano de Tal",
        city="BRASILIA",
        amount=None,
        txid=pix.NO_TXID,
    )
    assert code == MANUAL_EXAMPLE
    assert code.endswith("63041D3D")
    check_crc(code)


def test_cpf_key_with_an_amount_and_accented_name_and_city():
    code = pix.br_code(
        key="52998224725",
        name="  Dra.  Conceição   Gonçalves de Araújo ",
        city="São José dos Campos",
        amount=Decimal("1234.5"),
        txid=pix.txid_for(closing_id=42, month=dt.date(2026, 5, 1)),
    )
    check_crc(code)
    fields = parse_tlv(code)
    assert list(fields) == ["00", "26", "52", "53", "54", "58", "59", "60", "62", "63"]
    assert fields["00"] == "01"
    assert parse_tlv(fields["26"]) == {"00": "br.gov.bcb.pix", "01": "52998224725"}
    assert fields["52"] == "0000"
    assert fields["53"] == "986"
    assert fields["54"] == "1234.50"
    assert fields["58"] == "BR"
    # 25 characters would end in a space: cut, then trimmed.
    assert fields["59"] == "Dra. Conceicao Goncalves"
    assert fields["60"] == "Sao Jose dos Ca"
    assert parse_tlv(fields["62"]) == {"05": "MC20260500000042"}
    assert fields["63"] == code[-4:]
    assert code.isascii()


def test_phone_key_with_a_round_amount():
    code = pix.br_code(
        key="+5511987654321",
        name="Dr. Antônio Müller-Øster",
        city="Ribeirão Preto",
        amount=Decimal("80"),
        txid="ABCdef0123456789XYZ012345",
    )
    check_crc(code)
    fields = parse_tlv(code)
    assert parse_tlv(fields["26"]) == {"00": "br.gov.bcb.pix", "01": "+5511987654321"}
    assert fields["54"] == "80.00"
    # Ø has no decomposition: it is dropped rather than sent as non-ASCII.
    assert fields["59"] == "Dr. Antonio Muller-ster"
    assert fields["60"] == "Ribeirao Preto"
    assert parse_tlv(fields["62"]) == {"05": "ABCdef0123456789XYZ012345"}


def test_the_longest_email_key_fills_the_merchant_account_field_exactly():
    email = "a" * 62 + "@exemplo.com.br"
    assert len(email) == PIX_EMAIL_MAX_LENGTH == 77
    assert clean_pix_email(email) == email
    code = pix.br_code(key=email, name="Ana", city="Recife", amount=None, txid="X1")
    check_crc(code)
    fields = parse_tlv(code)
    assert len(fields["26"]) == 99
    assert parse_tlv(fields["26"])["01"] == email
    with pytest.raises(ValueError):
        pix.br_code(key=email + "r", name="Ana", city="Recife", amount=None, txid="X1")


@pytest.mark.parametrize(
    ("key_type", "typed", "canonical"),
    [
        (PixKeyType.CPF, "529.982.247-25", "52998224725"),
        (PixKeyType.CNPJ, "11.222.333/0001-81", "11222333000181"),
        (PixKeyType.CNPJ, "12.abc.345/01de-35", "12ABC34501DE35"),
        (PixKeyType.EMAIL, " Ana.Souza@Exemplo.com.br ", "ana.souza@exemplo.com.br"),
        (PixKeyType.PHONE, "(11) 98765-4321", "+5511987654321"),
        (PixKeyType.RANDOM, "{123E4567-E89B-12D3-A456-426614174000}",
         "123e4567-e89b-12d3-a456-426614174000"),
    ],
)  # fmt: skip
def test_the_keys_our_app_stores_go_into_the_code_unchanged(key_type, typed, canonical):
    key = clean_pix_key(key_type, typed)
    assert key == canonical
    code = pix.br_code(key=key, name="Ana", city="Recife", amount=None, txid="X")
    assert parse_tlv(parse_tlv(code)["26"])["01"] == canonical
    check_crc(code)


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("0.01"), "0.01"),
        (Decimal("1234.56"), "1234.56"),
        (Decimal("15.000"), "15.00"),  # trailing zeros are still whole cents
        (Decimal("1E+3"), "1000.00"),
        (Decimal("9999999999.99"), "9999999999.99"),  # 13 characters, the most field 54 holds
    ],
)
def test_amount_is_written_with_a_dot_and_two_decimals(amount, text):
    code = pix.br_code(key="52998224725", name="Ana", city="Recife", amount=amount, txid="X")
    assert parse_tlv(code)["54"] == text
    check_crc(code)


@pytest.mark.parametrize(
    "amount",
    [
        Decimal("0"),
        Decimal("-0"),
        Decimal("-10.00"),
        Decimal("1.005"),
        Decimal("10000000000.00"),
        Decimal("1E+30"),
        Decimal("NaN"),
        Decimal("Infinity"),
    ],
)
def test_refuses_amounts_that_are_not_a_positive_number_of_cents_that_fits(amount):
    with pytest.raises(ValueError):
        pix.br_code(key="52998224725", name="Ana", city="Recife", amount=amount, txid="X")


@pytest.mark.parametrize("amount", [12.5, 12, "12.50", True])
def test_refuses_money_that_is_not_a_decimal(amount):
    with pytest.raises(TypeError):
        pix.br_code(key="52998224725", name="Ana", city="Recife", amount=amount, txid="X")


@pytest.mark.parametrize(
    "txid", ["", "**", "****", "MC-2026", "MC 2026", "Ç1", "A" * 26, "MC202605\n"]
)
def test_refuses_txids_other_than_letters_and_digits_or_the_no_txid_value(txid):
    with pytest.raises(ValueError):
        pix.br_code(key="52998224725", name="Ana", city="Recife", amount=None, txid=txid)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"key": ""}, "key is empty"),
        ({"key": " 52998224725"}, "surrounding spaces"),
        # Not ASCII, so not what the payer's bank looks up in the PIX directory.
        ({"key": "ana@exémplo.com.br"}, "outside printable ASCII"),
        ({"name": ""}, "name is empty"),
        ({"name": "中文"}, "name is empty"),  # nothing left once folded
        ({"city": "   "}, "city is empty"),
    ],
)
def test_refuses_empty_or_non_ascii_fields(overrides, message):
    arguments = {"key": "52998224725", "name": "Ana", "city": "Recife", "amount": None}
    with pytest.raises(ValueError, match=message):
        pix.br_code(**(arguments | overrides), txid="X")


def test_br_code_takes_keyword_arguments_only():
    with pytest.raises(TypeError):
        pix.br_code("52998224725", "Ana", "Recife", None, "X")  # type: ignore[misc]


def test_the_clinic_city_setting_makes_a_valid_code():
    assert settings.CLINIC_CITY
    code = pix.br_code(
        key="52998224725", name="Ana", city=settings.CLINIC_CITY, amount=None, txid="X"
    )
    assert parse_tlv(code)["60"] == pix.ascii_fold(settings.CLINIC_CITY, 15)


# --- Folding and txid ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "max_length", "folded"),
    [
        ("São Paulo", 15, "Sao Paulo"),
        ("Florianópolis", 15, "Florianopolis"),
        ("Conceição do Mato Dentro", 15, "Conceicao do Ma"),
        ("  Maria\t\nJosé   da  Silva ", 25, "Maria Jose da Silva"),
        ("Ana\x00Bia\x7f", 25, "AnaBia"),
        ("Ana \x01 Bia", 25, "Ana Bia"),  # a dropped control leaves one space
        ("Dra. Ana ", 5, "Dra."),
        ("ﬁnança №1", 25, "financa No1"),  # compatibility forms decompose too
        ("", 25, ""),
    ],
)
def test_ascii_fold(text, max_length, folded):
    assert pix.ascii_fold(text, max_length) == folded


def test_txid_for_a_closing():
    txid = pix.txid_for(closing_id=7, month=dt.date(2026, 1, 31))
    assert txid == "MC20260100000007"
    assert re.fullmatch(r"[A-Za-z0-9]{1,25}", txid)
    largest = pix.txid_for(closing_id=10**17 - 1, month=dt.date(2026, 12, 1))
    assert len(largest) == 25
    assert re.fullmatch(r"[A-Za-z0-9]{1,25}", largest)


@pytest.mark.parametrize(("closing_id", "error"), [(0, ValueError), (-1, ValueError),
                                                     (10**17, ValueError), ("7", TypeError),
                                                     (True, TypeError)])  # fmt: skip
def test_txid_for_refuses_ids_that_are_not_positive_ints_that_fit(closing_id, error):
    with pytest.raises(error):
        pix.txid_for(closing_id=closing_id, month=dt.date(2026, 1, 1))


# --- QR code ---------------------------------------------------------------------


def svg_matrix(svg: str) -> list[list[bool]]:
    """Read the dark modules back out of segno's SVG path (M, m and h commands)."""
    width = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1)) // pix.QR_SCALE
    path = re.search(r'<path class="qrline"[^>]* d="([^"]+)"', svg).group(1)
    matrix = [[False] * width for _row in range(width)]
    x = y = 0.0
    for command, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:
            for column in range(int(x), int(x + float(a))):
                matrix[int(y)][column] = True
            x += float(a)
    return matrix


def test_qr_svg_is_inline_accessible_and_has_no_inline_style():
    svg = pix.qr_svg(MANUAL_EXAMPLE, title='PIX de "Fulano" <R$ 10>')
    assert svg.startswith("<svg ")
    assert "<?xml" not in svg
    assert "style=" not in svg
    assert re.search(r'<svg [^>]*role="img"', svg)
    assert re.search(r'<svg [^>]*class="pix-qr"', svg)
    assert re.search(r'<svg [^>]*width="(\d+)" height="\1"[^>]*viewBox="0 0 \1 \1"', svg)
    assert '<title>PIX de "Fulano" &lt;R$ 10&gt;</title>' in svg
    assert svg.count("<title>") == 1
    assert 'fill="#fff"' in svg  # a light background, so it scans on a dark page


def test_qr_svg_draws_the_level_m_symbol_of_the_payload():
    svg = pix.qr_svg(MANUAL_EXAMPLE, title="PIX")
    expected = segno.make(MANUAL_EXAMPLE, error="m", boost_error=False)
    assert expected.error == "M"
    assert svg_matrix(svg) == [[bool(cell) for cell in row] for row in expected.matrix_iter()]


def test_qr_svg_scans_back_to_the_payload():
    import zxingcpp

    code = pix.br_code(
        key="+5511987654321", name="Dr. Antônio", city="Ribeirão Preto",
        amount=Decimal("250.00"), txid="MC20260500000042",
    )  # fmt: skip
    matrix = svg_matrix(pix.qr_svg(code, title="PIX"))
    scale = 4
    image = Image.new("L", (len(matrix) * scale, len(matrix) * scale), 255)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                image.paste(0, (x * scale, y * scale, (x + 1) * scale, (y + 1) * scale))
    [barcode] = zxingcpp.read_barcodes(image)
    assert barcode.text == code
    assert barcode.ec_level == "M"


def test_qr_svg_needs_a_title():
    with pytest.raises(ValueError):
        pix.qr_svg(MANUAL_EXAMPLE, title="")
