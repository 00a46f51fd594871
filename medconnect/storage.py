from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed static files, with ES module imports rewritten too.

    The call page's modules import each other ("./negotiation.js"); without
    this, those imports would name unhashed files that browsers may cache
    across a deploy, mixing old and new modules.
    """

    support_js_module_import_aggregation = True
