from __future__ import annotations


class VisionError(ValueError):
    """Input the vision code refuses, with a machine-readable `code` (the store maps it to
    its own error responses) and a message for people."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
