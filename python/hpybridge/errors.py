"""The exceptions hpybridge raises. The runtime (Rust) raises them by name from this module.

Import-time failures are ImportErrors, as NumPy's `import_array()` failures are, so code that
guards an optional dependency with `except ImportError` keeps working.
"""


class APIImportError(ImportError):
    """A consumer could not import an API (base class of the more specific errors below)."""


class APICapsuleError(APIImportError):
    """The provider module's attribute is not an hpybridge API capsule, or the table in it is
    malformed (magic, layout version, strings)."""


class APIVersionError(APIImportError):
    """The provider's API has another name, another major version, or an older minor version."""


class APISlotError(APIImportError):
    """A slot the consumer uses is missing, renamed, or has another signature."""


class CrossModeError(APIImportError):
    """The consumer's HPy context family differs from the provider's and no translating call path
    is available."""


class APIRegistrationError(ImportError):
    """A provider's API could not be registered (already registered, or a malformed declaration)."""


class NoFallbackError(ValueError):
    """An HPy signature has no CPython-API form (docs/fallback-stubs.md says which have none)."""


class SignatureSyntaxError(ValueError):
    """A C signature string could not be parsed; the message points at the offending character."""
