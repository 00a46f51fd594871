"""Profile photos: judge an upload by its content, then re-encode it.

Nothing the user sent is stored as is. The image is decoded (which catches
truncated or disguised files), turned upright, stripped of every metadata
block (EXIF with GPS, XMP, ICC comments) by building a fresh image from the
pixels, scaled down, and written as a new WebP under a random name.
"""

import io
import uuid
import warnings

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow reports many phone and camera JPEGs as MPO (JPEG plus hidden extra frames);
# only the first frame is decoded and kept.
ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP"}
OUTPUT_FORMAT = "WEBP"
OUTPUT_QUALITY = 85


def _refuse(message, code):
    return ValidationError(message, code=code)


def process_photo(upload) -> ContentFile:
    """Validate an uploaded file and return the re-encoded photo to store.

    Raises ValidationError (codes: too-large, not-an-image, bad-format, too-many-pixels,
    corrupt) without touching storage.
    """
    if upload.size > settings.PHOTO_MAX_BYTES:
        raise _refuse(_("The photo is larger than 5 MB. Choose a smaller file."), "too-large")
    upload.seek(0)
    data = upload.read()
    try:
        with warnings.catch_warnings():
            # Pillow warns between MAX_IMAGE_PIXELS and twice that; treat both as a bomb.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format not in ACCEPTED_FORMATS:
                    raise _refuse(_("Only JPEG, PNG and WebP photos are accepted."), "bad-format")
                width, height = probe.size
                if width * height > settings.PHOTO_MAX_PIXELS:
                    raise _refuse(
                        _("This image is too large in pixels to be a profile photo."),
                        "too-many-pixels",
                    )
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                upright = ImageOps.exif_transpose(image)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse(
            _("This image is too large in pixels to be a profile photo."), "too-many-pixels"
        ) from None
    except UnidentifiedImageError:
        raise _refuse(
            _("This file is not a photo. Choose a JPEG, PNG or WebP image."), "not-an-image"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise _refuse(
            _("This photo is damaged or incomplete. Try another file."), "corrupt"
        ) from None

    has_alpha = upright.mode in ("RGBA", "LA") or (
        upright.mode == "P" and "transparency" in upright.info
    )
    mode = "RGBA" if has_alpha else "RGB"
    # Copy only the pixels into a brand new image: no metadata can follow.
    clean = Image.new(mode, upright.size)
    clean.paste(upright.convert(mode))
    clean.thumbnail((settings.PHOTO_MAX_SIDE, settings.PHOTO_MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    clean.save(out, OUTPUT_FORMAT, quality=OUTPUT_QUALITY, method=4)
    return ContentFile(out.getvalue(), name=f"{uuid.uuid4().hex}.webp")
