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
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow reports many phone and camera JPEGs as MPO (JPEG plus hidden extra frames);
# only the first frame is decoded and kept.
ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP"}
# JPEG (and MPO) can be decoded at a fraction of their size, so PHOTO_MAX_PIXELS
# applies to them. PNG and WebP are decoded whole (a WebP at about 16 bytes a
# pixel, counting Pillow's copies), so they stop at a 4000 x 3000 phone photo:
# at most about 55 MB (PNG) or 190 MB (WebP) while one is checked.
SCALED_DECODE_FORMATS = {"JPEG", "MPO"}
FULL_DECODE_MAX_PIXELS = 12_500_000
# Modes Pillow resizes with a real filter (palette and 1-bit images only by nearest pixel).
RESIZABLE_MODES = {"RGB", "RGBA", "L", "LA"}
OUTPUT_FORMAT = "WEBP"
OUTPUT_QUALITY = 85


def photo_upload_register(*, user) -> bool:
    """Count one photo upload by `user`; False once past PHOTO_UPLOAD_LIMIT in the window.

    The count lives in the cache (per process with the default local-memory
    cache): it bounds the work one account can cause, it is not an audit.
    """
    key = f"photo-uploads:{user.pk}"
    window = settings.PHOTO_UPLOAD_WINDOW_MINUTES * 60
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # the window ended between add and incr
        cache.set(key, 1, timeout=window)
        count = 1
    return count <= settings.PHOTO_UPLOAD_LIMIT


def _refuse(message, code):
    return ValidationError(message, code=code)


def _too_many_pixels():
    return _refuse(_("This image is too large in pixels to be a profile photo."), "too-many-pixels")


def process_photo(upload) -> ContentFile:
    """Validate an uploaded file and return the re-encoded photo to store.

    Raises ValidationError (codes: too-large, not-an-image, bad-format, too-many-pixels,
    corrupt) without touching storage. The file is read where it lies (on disk
    past FILE_UPLOAD_MAX_MEMORY_SIZE), never copied whole into memory.
    """
    if upload.size > settings.PHOTO_MAX_BYTES:
        raise _refuse(_("The photo is larger than 5 MB. Choose a smaller file."), "too-large")
    side = settings.PHOTO_MAX_SIDE
    try:
        with warnings.catch_warnings():
            # Pillow warns between MAX_IMAGE_PIXELS and twice that; treat both as a bomb.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            upload.seek(0)
            with Image.open(upload) as probe:
                if probe.format not in ACCEPTED_FORMATS:
                    raise _refuse(_("Only JPEG, PNG and WebP photos are accepted."), "bad-format")
                width, height = probe.size
                limit = (
                    settings.PHOTO_MAX_PIXELS
                    if probe.format in SCALED_DECODE_FORMATS
                    else FULL_DECODE_MAX_PIXELS
                )
                if width * height > limit:
                    raise _too_many_pixels()
                probe.verify()
            upload.seek(0)
            with Image.open(upload) as image:
                has_alpha = image.mode in ("RGBA", "LA", "PA") or (
                    image.mode == "P" and "transparency" in image.info
                )
                mode = "RGBA" if has_alpha else "RGB"
                # A JPEG decodes straight at 1/2, 1/4 or 1/8 of its size, still at
                # least the photo's size: a 40 MP photo is never held whole.
                image.draft(image.mode, (side, side))
                if image.mode not in RESIZABLE_MODES:
                    image = image.convert(mode)
                # In place, before any copy: only the small image is copied below.
                image.thumbnail((side, side), Image.Resampling.LANCZOS)
                upright = ImageOps.exif_transpose(image)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels() from None
    except UnidentifiedImageError:
        raise _refuse(
            _("This file is not a photo. Choose a JPEG, PNG or WebP image."), "not-an-image"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise _refuse(
            _("This photo is damaged or incomplete. Try another file."), "corrupt"
        ) from None

    # Copy only the pixels into a brand new image: no metadata can follow.
    clean = Image.new(mode, upright.size)
    clean.paste(upright.convert(mode))
    out = io.BytesIO()
    clean.save(out, OUTPUT_FORMAT, quality=OUTPUT_QUALITY, method=4)
    return ContentFile(out.getvalue(), name=f"{uuid.uuid4().hex}.webp")
