"""Errors raised by wengert.

`UnsupportedError` is raised at transform time for a construct wengert cannot
differentiate, naming the user's file, line and the construct; a crash with a
clear message is acceptable, a silently wrong gradient never is.
"""


class UnsupportedError(Exception):
    """A construct or callable that wengert cannot differentiate.

    The message starts with ``file:line:`` of the user's source where known.
    """

    def __init__(self, message: str, filename: str | None = None, lineno: int | None = None):
        self.filename = filename
        self.lineno = lineno
        if filename is not None:
            message = f"{filename}:{lineno}: {message}" if lineno else f"{filename}: {message}"
        super().__init__(message)
