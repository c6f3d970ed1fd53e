"""The one exception type for errors a user can cause (bad path, bad image, bad value).

The CLI prints its message on one line and exits with code 2; anything else is a bug
and keeps its traceback.
"""


class UserError(ValueError):
    """A problem with the user's input; the message says what and where."""


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or Inf; the last good checkpoint is left intact."""
