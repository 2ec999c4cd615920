"""Keep secrets out of logs: device tokens, bearer headers, session and CSRF cookies."""

from __future__ import annotations

import logging
import re

_PATTERNS = [
    (re.compile(r"mgd_[A-Za-z0-9_\-]{8,}"), "mgd_[redacted]"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-\.=]+"), r"\1[redacted]"),
    (re.compile(r"(?i)((?:sessionid|csrftoken)=)[^;\s'\"]+"), r"\1[redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True
