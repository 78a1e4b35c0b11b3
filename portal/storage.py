"""Production static files storage: whitenoise's compressed, hashed files, with the ES module
imports in our own scripts rewritten to the hashed names so they stay cacheable for ever."""

from django.contrib.staticfiles.storage import HashedFilesMixin
from whitenoise.storage import CompressedManifestStaticFilesStorage

# Django's rules for rewriting `import ... from "./x.js"` (the part after the glob).
_JS_MODULE_IMPORT_RULES = HashedFilesMixin._js_module_import_aggregation_patterns[1]


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Rewrites module imports in ``carevax/*.js`` only.

    Turning on ``support_js_module_import_aggregation`` for every script would also parse the
    vendored packages, whose extension files import paths that are not shipped (htmx's
    ``ext/*.js`` import ``../htmx``) and would make collectstatic fail.
    """

    patterns = (
        *CompressedManifestStaticFilesStorage.patterns,
        ("carevax/*.js", _JS_MODULE_IMPORT_RULES),
    )
