"""User-facing errors: the CLI prints these as one clear message, never a traceback."""


class UirbenchError(Exception):
    """An error caused by input or environment that the user can fix; the message says how."""


class ImageReadError(UirbenchError):
    """An image file could not be decoded; names the file."""


class ChecksumError(UirbenchError):
    """A file's sha256 differs from the pinned value."""


class UnsafeArchiveError(UirbenchError):
    """An archive member would escape the target, is a link/device, or the archive is a bomb."""


class InvalidNameError(UirbenchError, ValueError):
    """An unknown task, split, preset or similar name; the message lists the valid ones."""
