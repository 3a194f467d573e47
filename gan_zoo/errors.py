"""The one exception type for bad user input: train.py prints its message on one line and exits 2."""


class UserError(ValueError):
    """Bad input from the user (a path, a config value, a file): the message says what and how to fix it."""
