"""Debtor replies: what they mean (a pure classifier over keyword and phrase rules per locale,
and a statistical model trained on the labelled replies in `corpus/`).

What a reply does to its case is `gateway.services.replies`.
"""

from gateway.replies.blend import model_ready
from gateway.replies.categories import PRECEDENCE, Category
from gateway.replies.classifier import Classification, Facts, classify, warm_up
from gateway.replies.rules import rule_set

__all__ = [
    "PRECEDENCE",
    "Category",
    "Classification",
    "Facts",
    "classify",
    "model_ready",
    "rule_set",
    "warm_up",
]
