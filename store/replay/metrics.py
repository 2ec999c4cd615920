"""Scoring receipts against a scenario's expectations (cAcc, item precision and recall)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Metrics:
    exact: int
    receipts: int
    precision: float
    recall: float
    review: int
    events: int
    # Receipts whose lines changed after they were issued (late evidence, reviews, refunds).
    amended: int = 0

    @property
    def cacc(self) -> float:
        return self.exact / self.receipts if self.receipts else 1.0

    def line(self) -> str:
        return (
            f"cAcc={self.exact}/{self.receipts} items_p={self.precision:.4f} "
            f"items_r={self.recall:.4f} review={self.review} amended={self.amended}"
        )


def score(
    *,
    expects: list[dict],
    receipts: dict[str, list[dict[str, int]]],
    review: int,
    events: int,
) -> Metrics:
    """`expects`: the scenario's expect lines (a shopper's n-th expect line is their n-th
    visit); `receipts`: {shopper id: [{sku: quantity}, ...]} in the order they were issued. A
    missing receipt counts as wrong, and so does a receipt nobody expected."""
    wanted: dict[str, list[dict[str, int]]] = {}
    for line in expects:
        items = {sku: int(q) for sku, q in (line.get("items") or {}).items() if int(q)}
        wanted.setdefault(str(line["shopper"]), []).append(items)
    exact = total = 0
    hit = got_n = exp_n = 0
    for shopper, exp_list in wanted.items():
        got_list = receipts.get(shopper, [])
        for i in range(max(len(exp_list), len(got_list))):
            exp = Counter(exp_list[i]) if i < len(exp_list) else Counter()
            got = Counter(got_list[i]) if i < len(got_list) else Counter()
            total += 1
            exact += int(exp == got and i < len(got_list))
            hit += sum((exp & got).values())
            got_n += sum(got.values())
            exp_n += sum(exp.values())
    return Metrics(
        exact=exact,
        receipts=total,
        precision=hit / got_n if got_n else 1.0,
        recall=hit / exp_n if exp_n else 1.0,
        review=review,
        events=events,
    )
