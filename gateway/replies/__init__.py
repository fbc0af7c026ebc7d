"""Debtor replies: what they mean (a pure classifier over keyword and phrase rules per locale).

What a reply does to its case is `gateway.services.replies`.
"""

from gateway.replies.categories import PRECEDENCE, Category
from gateway.replies.classifier import Classification, Facts, classify, rule_set

__all__ = ["PRECEDENCE", "Category", "Classification", "Facts", "classify", "rule_set"]
