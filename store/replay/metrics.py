"""Scoring receipts against a scenario's expectations (cAcc, item precision and recall).

The metrics line is fixed in DESIGN.md: `cAcc=<exact>/<receipts> items_p=<precision>
items_r=<recall> review=<events sent to review>`, then `amended=<receipts amended>` and any
further `key=value` fields in the order they were added (`Metrics.extra`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


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
    # Further fields for the metrics line, after `amended`: {key: value}.
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def cacc(self) -> float:
        return self.exact / self.receipts if self.receipts else 1.0

    def fields(self) -> list[tuple[str, str]]:
        return [
            ("cAcc", f"{self.exact}/{self.receipts}"),
            ("items_p", f"{self.precision:.4f}"),
            ("items_r", f"{self.recall:.4f}"),
            ("review", str(self.review)),
            ("amended", str(self.amended)),
            *((str(k), str(v)) for k, v in self.extra.items()),
        ]

    def line(self) -> str:
        return " ".join(f"{key}={value}" for key, value in self.fields())


def score(
    *,
    expects: list[dict],
    receipts: dict[str, list[dict[str, int]]],
    review: int,
    events: int,
    extra: dict[str, object] | None = None,
) -> Metrics:
    """`expects`: the scenario's expect lines (a shopper's n-th expect line is their n-th
    visit); `receipts`: {shopper id: [{sku: quantity}, ...]} in the order they were issued.
    Every receipt counts: one nobody expected (also of a shopper with no expect line at all)
    is wrong and all its items are wrong; an expected visit without a receipt is wrong too."""
    wanted: dict[str, list[dict[str, int]]] = {}
    for line in expects:
        items = {sku: int(q) for sku, q in (line.get("items") or {}).items() if int(q)}
        wanted.setdefault(str(line["shopper"]), []).append(items)
    exact = total = 0
    hit = got_n = exp_n = 0
    for shopper in sorted(set(wanted) | set(receipts)):
        exp_list = wanted.get(shopper, [])
        got_list = receipts.get(shopper, [])
        for i in range(max(len(exp_list), len(got_list))):
            exp = Counter(exp_list[i]) if i < len(exp_list) else Counter()
            got = Counter(got_list[i]) if i < len(got_list) else Counter()
            total += 1
            exact += int(exp == got and i < len(got_list) and i < len(exp_list))
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
        extra=dict(extra or {}),
    )
