"""User-facing errors: each carries one line that names the file (or input) and the problem.

The CLI prints `str(error)` and exits non-zero; the app shows it in a panel. Anything else that
escapes is a bug and keeps its traceback.
"""


class SgvError(Exception):
    """Base class of errors caused by the user's input, files or environment."""


class CheckpointError(SgvError):
    """A model file that is missing, truncated, corrupt, foreign or inconsistent."""
