"""Errors whose message is one clear line that may be shown to a user as it is."""


class UserFacingError(Exception):
    """Base: str(exc) is a single line fit for a user; the details go to the log."""


class InputError(UserFacingError):
    """The user's input cannot be used (wrong type, too large, empty...)."""


class ModelNotReady(UserFacingError):
    """The service's model is not built yet (it may be training right now)."""


class Busy(UserFacingError):
    """The service's queue is full; retry_after says when to try again."""

    def __init__(self, service: str, retry_after: float):
        self.service = service
        self.retry_after = max(1, round(retry_after))
        super().__init__(f"the {service} service is busy, try again in {self.retry_after} s")
