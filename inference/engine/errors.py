"""The error a request gets when its payload cannot be served (no heavy imports here)."""


class InputError(ValueError):
    """status 422 (validation) unless given: 400 for a malformed body, 413 for too long or too many inputs."""

    def __init__(self, message, status=422):
        super().__init__(message)
        self.status = status
