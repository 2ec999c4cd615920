"""A tqdm progress bar for long management commands (hidden when stderr is no terminal)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tqdm import tqdm


def bar(items: Iterable[Any], total: int, desc: str) -> Iterable[Any]:
    return tqdm(items, total=total, desc=desc, unit="img", disable=None, leave=False)
