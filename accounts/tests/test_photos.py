"""Profile photos: every file is built here, in code, so each test shows exactly what it sends."""

import functools
import io
import mimetypes
import re
import struct
import zlib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.photos import process_photo
from accounts.services import user_photo_remove, user_photo_set

RED, BLUE = (255, 0, 0), (0, 0, 255)
GPS_IFD = 0x8825
ORIENTATION = 0x0112


def _encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def _jpeg(size=(800, 600), color=RED, **params) -> bytes:
    return _encode(Image.new("RGB", size, color), "JPEG", quality=90, **params)


def _noisy(fmt: str, **params) -> bytes:
    # Noise does not compress, so most of the file is pixel data and cutting it
    # in half cuts the picture, not just the headers.
    return _encode(Image.effect_noise((256, 256), 80).convert("RGB"), fmt, **params)


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _processed(data: bytes, name: str = "photo.jpg") -> Image.Image:
    return _open(process_photo(_upload(data, name)).read())


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@functools.cache
def _huge_bilevel_png(width: int, height: int) -> bytes:
    """A genuine, fully decodable black PNG of the given size, a few kilobytes on disk.

    Written chunk by chunk so that building it does not cost what decoding it would.
    """
    row = b"\x00" + bytes((width + 7) // 8)  # filter byte + one bit per pixel
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


def _png_with_a_damaged_byte() -> bytes:
    data = bytearray(_noisy("PNG"))
    middle_of_pixels = data.index(b"IDAT") + 1000
    data[middle_of_pixels] ^= 0xFF
    return bytes(data)


def _png_with_a_bad_checksum() -> bytes:
    # The pixels decode fine; only the IDAT checksum is wrong, which verify() notices.
    data = bytearray(_noisy("PNG"))
    start = data.index(b"IDAT")
    (length,) = struct.unpack(">I", data[start - 4 : start])
    data[start + 4 + length] ^= 0xFF
    return bytes(data)


def _padded_png(total_size: int) -> bytes:
    # Decoders stop at IEND, so the padding makes the file big without making it invalid.
    png = _encode(Image.new("RGB", (64, 64), RED), "PNG")
    return png + bytes(total_size - len(png))


def _two_halves(size=(800, 400)) -> Image.Image:
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))  # left half red, right half blue
    return image


def _is_close(pixel, expected, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], expected, strict=True))


@pytest.fixture
def stored_files(tmp_path):
    root = Path(default_storage.location)
    assert root.is_relative_to(tmp_path)  # the root conftest keeps tests off real storage

    def list_files():
        if not root.exists():
            return []
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    return list_files


@pytest.fixture
def doctor_with_photo(doctor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        user_photo_set(user=doctor, upload=_upload(_jpeg(color=BLUE)))
    return doctor


# What is accepted --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("photo.jpg", _jpeg((1024, 768))),
        ("photo.png", _encode(Image.new("RGBA", (1024, 768), (255, 0, 0, 255)), "PNG")),
        ("photo.webp", _encode(Image.new("RGB", (1024, 768), RED), "WEBP")),
    ],
    ids=["jpeg", "png", "webp"],
)
def test_jpeg_png_and_webp_are_re_encoded_as_webp_no_wider_than_512(name, data):
    photo = _processed(data, name)

    assert photo.format == "WEBP"
    assert photo.size == (512, 384)
    assert _is_close(photo.getpixel((256, 192)), RED)


def test_a_portrait_photo_is_scaled_down_by_its_height():
    assert _processed(_jpeg((600, 1200))).size == (256, 512)


def test_a_photo_smaller_than_the_limit_is_not_enlarged():
    assert _processed(_jpeg((120, 80))).size == (120, 80)


def test_a_png_keeps_its_transparency():
    image = Image.new("RGBA", (100, 100), (255, 0, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, 50, 100))  # left half fully transparent

    photo = _processed(_encode(image, "PNG"), "photo.png")

    assert photo.mode == "RGBA"
    assert photo.getpixel((10, 50))[3] == 0
    assert photo.getpixel((90, 50))[3] == 255


def test_a_palette_png_with_a_transparent_colour_keeps_its_transparency():
    image = Image.new("P", (100, 100), 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(0, (0, 0, 50, 100))

    photo = _processed(_encode(image, "PNG", transparency=0), "photo.png")

    assert photo.getpixel((10, 50))[3] == 0
    assert photo.getpixel((90, 50))[3] == 255


def test_an_opaque_photo_is_stored_without_an_alpha_channel():
    assert _processed(_jpeg()).mode == "RGB"


def test_a_phone_jpeg_with_an_extra_frame_is_accepted_and_only_its_main_picture_kept():
    # Many phones and cameras write the Multi-Picture (MPO) variant of JPEG,
    # with a second, hidden frame; their .jpg files must be accepted.
    data = _encode(
        Image.new("RGB", (640, 480), RED),
        "MPO",
        save_all=True,
        append_images=[Image.new("RGB", (640, 480), BLUE)],
    )
    assert Image.open(io.BytesIO(data)).format == "MPO"

    photo = _processed(data)

    assert photo.format == "WEBP"
    assert getattr(photo, "n_frames", 1) == 1
    assert _is_close(photo.getpixel((320, 240)), RED)


@pytest.mark.parametrize(
    ("orientation", "size", "top_left", "bottom_right"),
    [
        (1, (512, 256), RED, BLUE),
        (3, (512, 256), BLUE, RED),  # upside down
        (6, (256, 512), RED, BLUE),  # taken with the phone turned: rotate 90° clockwise
        (8, (256, 512), BLUE, RED),  # rotate 90° counter-clockwise
    ],
)
def test_the_exif_orientation_is_applied_and_the_upright_photo_scaled(
    orientation, size, top_left, bottom_right
):
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    data = _encode(_two_halves((800, 400)), "JPEG", quality=95, exif=exif)

    photo = _processed(data)

    assert photo.size == size
    assert _is_close(photo.getpixel((5, 5)), top_left)
    assert _is_close(photo.getpixel((size[0] - 6, size[1] - 6)), bottom_right)
    assert ORIENTATION not in photo.getexif()


def test_a_small_photo_with_orientation_6_is_turned_upright_at_its_own_size():
    exif = Image.Exif()
    exif[ORIENTATION] = 6

    assert _processed(_encode(_two_halves((40, 20)), "JPEG", exif=exif)).size == (20, 40)


def test_gps_position_and_every_other_metadata_block_are_stripped():
    exif = Image.Exif()
    exif[0x010F] = "Acme Phones"  # Make
    exif[GPS_IFD] = {1: "S", 2: (23.0, 33.0, 1.0), 3: "W", 4: (46.0, 38.0, 2.0)}
    data = _jpeg(
        exif=exif,
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">Rua Augusta 1500</x:xmpmeta>',
        comment=b"home address",
    )
    assert _open(data).getexif().get_ifd(GPS_IFD)  # the upload really carries a position

    stored = process_photo(_upload(data)).read()
    photo = _open(stored)

    assert not photo.getexif()
    assert not photo.getexif().get_ifd(GPS_IFD)
    assert not {"exif", "xmp", "icc_profile", "comment"} & photo.info.keys()
    for chunk in (b"EXIF", b"XMP ", b"ICCP"):
        assert chunk not in stored
    for secret in (b"Acme", b"Augusta", b"home address"):
        assert secret not in stored


def test_the_stored_name_is_random_and_never_the_uploaded_one():
    names = {process_photo(_upload(_jpeg(), "maria-souza-cpf-52998224725.jpg")).name for _ in "ab"}

    assert len(names) == 2
    for name in names:
        assert re.fullmatch(r"[0-9a-f]{32}\.webp", name)


def test_a_file_of_exactly_the_size_limit_is_accepted():
    assert settings.PHOTO_MAX_BYTES == 5 * 1024 * 1024

    assert _processed(_padded_png(settings.PHOTO_MAX_BYTES), "photo.png").format == "WEBP"


def test_an_image_of_exactly_the_pixel_limit_is_accepted(settings):
    # A lowered limit keeps this boundary test fast; the real-size bombs are below.
    settings.PHOTO_MAX_PIXELS = 600 * 400

    assert _processed(_jpeg((600, 400))).size == (512, 341)
    with pytest.raises(ValidationError) as caught:
        process_photo(_upload(_jpeg((601, 400))))
    assert caught.value.code == "too-many-pixels"


# What is refused ---------------------------------------------------------------------------


def test_our_pixel_limit_is_stricter_than_pillows_own_bomb_guard():
    # Otherwise the 7000 x 7000 case below would only be caught by Pillow.
    assert settings.PHOTO_MAX_PIXELS < 7000 * 7000 < Image.MAX_IMAGE_PIXELS


@pytest.mark.parametrize("side", [7000, 10000, 20000])
def test_the_bomb_files_are_genuine_images_of_the_declared_size(side, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    data = _huge_bilevel_png(side, side)

    assert len(data) < 64 * 1024
    image = _open(data)
    assert image.size == (side, side)
    assert image.getpixel((side - 1, side - 1)) == 0


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_pillows_bomb_warning_refuses_the_image_even_if_our_limit_is_raised(settings):
    # Outside tests a warning is only logged, and the image would then be decoded.
    settings.PHOTO_MAX_PIXELS = 10**9

    with pytest.raises(ValidationError) as caught:
        process_photo(_upload(_huge_bilevel_png(10000, 10000), "photo.png"))

    assert caught.value.code == "too-many-pixels"


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _as(fmt: str) -> bytes:
    return _encode(Image.new("RGB", (100, 100), RED), fmt)


HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512">'
    b'<script>alert(1)</script><rect width="512" height="512"/></svg>'
)

BAD_FILES = [
    pytest.param(
        "photo.png", lambda: _padded_png(settings.PHOTO_MAX_BYTES + 1), "too-large", id="over-5-mb"
    ),
    # 49 megapixels: over our limit, under Pillow's own guard.
    pytest.param(
        "photo.png", lambda: _huge_bilevel_png(7000, 7000), "too-many-pixels", id="bomb-7000"
    ),
    # 100 megapixels: Pillow warns.
    pytest.param(
        "photo.png", lambda: _huge_bilevel_png(10000, 10000), "too-many-pixels", id="bomb-10000"
    ),
    # 400 megapixels: Pillow refuses outright.
    pytest.param(
        "photo.png", lambda: _huge_bilevel_png(20000, 20000), "too-many-pixels", id="bomb-20000"
    ),
    pytest.param("photo.jpg", lambda: _half(_noisy("JPEG")), "corrupt", id="truncated-jpeg"),
    pytest.param("photo.png", lambda: _half(_noisy("PNG")), "corrupt", id="truncated-png"),
    pytest.param("photo.webp", lambda: _half(_noisy("WEBP")), "corrupt", id="truncated-webp"),
    pytest.param("photo.png", _png_with_a_damaged_byte, "corrupt", id="damaged-png"),
    pytest.param("photo.png", _png_with_a_bad_checksum, "corrupt", id="png-bad-checksum"),
    pytest.param(
        "photo.jpg",
        lambda: bytes((i * 37 + 11) % 256 for i in range(4096)),
        "not-an-image",
        id="random-bytes",
    ),
    pytest.param(
        "photo.jpg",
        lambda: _jpeg()[:20] + bytes(range(256)) * 8,
        "not-an-image",
        id="jpeg-header-then-garbage",
    ),
    pytest.param("photo.jpg", lambda: b"", "not-an-image", id="empty"),
    pytest.param("photo.jpg", lambda: HTML, "not-an-image", id="html-as-jpg"),
    pytest.param("photo.png", lambda: SVG, "not-an-image", id="svg-as-png"),
    pytest.param("photo.jpg", lambda: _as("PDF"), "not-an-image", id="pdf-as-jpg"),
    pytest.param("photo.gif", lambda: _as("GIF"), "bad-format", id="gif"),
    pytest.param("photo.jpg", lambda: _as("GIF"), "bad-format", id="gif-as-jpg"),
    pytest.param("photo.jpg", lambda: _as("TIFF"), "bad-format", id="tiff-as-jpg"),
    pytest.param("photo.png", lambda: _as("BMP"), "bad-format", id="bmp-as-png"),
]


def _bad_upload(name, build):
    # The browser labels the file by its name, whatever it really holds.
    return SimpleUploadedFile(name, build(), content_type=mimetypes.guess_type(name)[0])


@pytest.mark.parametrize(("name", "build", "code"), BAD_FILES)
def test_a_bad_file_is_refused_and_nothing_is_stored(
    doctor, stored_files, django_capture_on_commit_callbacks, name, build, code
):
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(ValidationError) as caught,
    ):
        user_photo_set(user=doctor, upload=_bad_upload(name, build))

    assert caught.value.code == code
    assert stored_files() == []
    assert not doctor.photo
    doctor.refresh_from_db()
    assert not doctor.photo
    assert callbacks == []


@pytest.mark.parametrize(("name", "build", "code"), BAD_FILES)
def test_a_bad_file_leaves_the_current_photo_in_place(
    doctor_with_photo, stored_files, django_capture_on_commit_callbacks, name, build, code
):
    before = doctor_with_photo.photo.name

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(ValidationError) as caught,
    ):
        user_photo_set(user=doctor_with_photo, upload=_bad_upload(name, build))

    assert caught.value.code == code
    assert stored_files() == [before]
    doctor_with_photo.refresh_from_db()
    assert doctor_with_photo.photo.name == before


# Storing, replacing and removing -----------------------------------------------------------


def test_setting_a_photo_stores_a_webp_under_a_random_name(doctor, stored_files):
    user_photo_set(user=doctor, upload=_upload(_jpeg(), "ana-souza.jpg"))

    doctor.refresh_from_db()
    assert re.fullmatch(r"photos/[0-9a-f]{32}\.webp", doctor.photo.name)
    assert stored_files() == [doctor.photo.name]
    with doctor.photo.open("rb") as stored:
        photo = _open(stored.read())
    assert (photo.format, photo.size) == ("WEBP", (512, 384))


def test_setting_a_photo_for_a_patient_works_the_same_way(patient, stored_files):
    user_photo_set(user=patient, upload=_upload(_encode(Image.new("RGB", (50, 50)), "PNG")))

    patient.refresh_from_db()
    assert stored_files() == [patient.photo.name]


def test_replacing_a_photo_deletes_the_old_file_once_committed(
    doctor_with_photo, stored_files, django_capture_on_commit_callbacks
):
    old = doctor_with_photo.photo.name

    with django_capture_on_commit_callbacks(execute=True):
        user_photo_set(user=doctor_with_photo, upload=_upload(_jpeg(color=RED)))

    doctor_with_photo.refresh_from_db()
    new = doctor_with_photo.photo.name
    assert new != old
    assert stored_files() == [new]


def test_the_old_photo_survives_until_the_transaction_commits(
    doctor_with_photo, stored_files, django_capture_on_commit_callbacks
):
    old = doctor_with_photo.photo.name

    with django_capture_on_commit_callbacks() as callbacks:
        user_photo_set(user=doctor_with_photo, upload=_upload(_jpeg(color=RED)))
    new = doctor_with_photo.photo.name

    assert stored_files() == sorted([old, new])
    for callback in callbacks:
        callback()
    assert stored_files() == [new]


def test_removing_a_photo_deletes_the_file_and_clears_the_field(
    doctor_with_photo, stored_files, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        user_photo_remove(user=doctor_with_photo)

    doctor_with_photo.refresh_from_db()
    assert not doctor_with_photo.photo
    assert stored_files() == []


def test_removing_when_there_is_no_photo_does_nothing(
    doctor, stored_files, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        user_photo_remove(user=doctor)

    assert callbacks == []
    doctor.refresh_from_db()
    assert not doctor.photo
    assert stored_files() == []
