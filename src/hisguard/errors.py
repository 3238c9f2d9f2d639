"""Errors a user can cause: the CLI prints the message and exits with the code, no traceback."""


class UserError(Exception):
    """Something the user can fix; `message` says what and how."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
