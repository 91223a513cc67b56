"""The one exception type for mistakes a user can fix (bad path, unknown name, ...)."""


class UserError(Exception):
    """A problem with the user's input; the CLI prints the message (which names the fix) and exits 2."""
