"""The words the call page's scripts show, translated on the server.

The scripts are static files with no build step, so they receive their
strings as JSON from the page (the CSP forbids inline scripts, and keeping
them here keeps every user-facing string in the one pt_BR catalog).
"""

from django.utils.translation import gettext as _


def call_strings(*, is_doctor: bool) -> dict[str, str]:
    other = _("the patient") if is_doctor else _("the doctor")
    return {
        "camera": _("Camera"),
        "microphone": _("Microphone"),
        "status_waiting": _("Waiting"),
        "status_joining": _("Joining…"),
        "status_connected": _("Connected"),
        "status_reconnecting": _("Reconnecting…"),
        "status_left": _("Left"),
        "toast_joined": _("%(name)s joined"),
        "toast_left": _("%(name)s left the call"),
        "toast_lost": _("%(name)s lost the connection, waiting…"),
        "banner_reconnecting": _("Your connection dropped. Reconnecting…"),
        "close_4401": _("Your session ended. Sign in again to come back."),
        "close_4403": _("This call is not open to your account."),
        "close_4404": _("This consultation link does not exist."),
        "close_4409": _("You opened this consultation in another tab or device."),
        "close_other": _("We could not connect to the call. Check your internet."),
        "use_here": _("Use here"),
        "sign_in": _("Sign in"),
        "ended": _("The consultation has ended."),
        "ended_by": _("%(name)s finished the consultation."),
        "mute_mic": _("Mute microphone"),
        "unmute_mic": _("Unmute microphone"),
        "camera_off": _("Turn camera off"),
        "camera_on": _("Turn camera on"),
        "quality_good": _("Good connection"),
        "quality_fair": _("Unstable connection"),
        "quality_poor": _("Weak connection"),
        "quality_unknown": _("Connection"),
        "quality_poor_help": _(
            "The connection is weak. Move closer to the Wi-Fi or turn your camera off."
        ),
        "help_denied_title": _("The browser blocked the camera and microphone"),
        "help_denied": _("To talk with %(other)s, allow the camera and microphone for this site.")
        % {"other": other},
        "help_missing_title": _("No camera or microphone found"),
        "help_missing": _("Plug in a camera or headset, or join without camera and talk by audio."),
        "help_busy_title": _("The camera is in use"),
        "help_busy": _(
            "Another app (Zoom, Teams, WhatsApp) is using the camera. Close it and try again."
        ),
        "help_other_title": _("We could not start the camera"),
        "help_other": _("Try again, or join without camera."),
        "steps_chrome": _(
            "In Chrome: tap the icon left of the address, open Permissions, allow Camera "
            "and Microphone, then tap Try again."
        ),
        "steps_edge": _(
            "In Edge: click the lock left of the address, set Camera and Microphone to "
            "Allow, then click Try again."
        ),
        "steps_firefox": _(
            "In Firefox: click the camera icon in the address bar, remove the block, "
            "then click Try again."
        ),
        "steps_safari": _(
            "In Safari: open Settings for this website (aA in the address bar on iPhone), "
            "allow Camera and Microphone, then tap Try again."
        ),
        "steps_other": _(
            "Open your browser's site settings, allow Camera and Microphone, then try again."
        ),
    }
