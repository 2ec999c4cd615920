"""Domain errors. Every error carries a machine-readable code; one place per interface (the
API exception handler, the device consumer) maps codes to responses."""

from __future__ import annotations


class DomainError(Exception):
    code = "error"
    status = 400

    def __init__(self, code: str | None = None, message: str = "", *, status: int | None = None):
        self.code = code or self.code
        self.message = message or self.code.replace("_", " ")
        if status is not None:
            self.status = status
        super().__init__(f"{self.code}: {self.message}")


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409
