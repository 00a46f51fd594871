from django.conf import settings
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed static files, with ES module imports rewritten too.

    The call page's modules import each other ("./negotiation.js"); without
    this, those imports would name unhashed files that browsers may cache
    across a deploy, mixing old and new modules.
    """

    support_js_module_import_aggregation = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._urls = {}

    def url(self, name, force=False):
        # Every page asks for the same dozen files, at 14 µs each; their hashed names
        # are fixed once the manifest is read, so each address is worked out once.
        if force or settings.DEBUG:  # DEBUG serves the unhashed names: nothing to keep
            return super().url(name, force)
        try:
            return self._urls[name]
        except KeyError:
            url = self._urls[name] = super().url(name)
            return url

    def load_manifest(self):
        self._urls = {}
        return super().load_manifest()

    def post_process(self, *args, **kwargs):
        self._urls = {}  # collectstatic is writing a new manifest
        yield from super().post_process(*args, **kwargs)
        self._urls = {}
