"""The budget a template that did not ship with the gateway renders under, and its checks.

Jinja's `SandboxedEnvironment` keeps a template away from Python internals but not from the
machine: `{{ "a" * 10**9 }}` allocates a gigabyte, nested loops or a doubly recursive macro spin
for hours, and a value doubled in a loop (`{% set ns.s = ns.s ~ ns.s %}`) outgrows memory in 40
steps. Here every way a template can make work is metered:

- loop iterations and calls (macros included) count against a step budget and a deadline in CPU
  time of the rendering thread (a render waiting for a core on a loaded machine spends none of
  it, so load never makes a good template "too costly");
- every value a template builds (operators, literals, `~`, filters, method calls) is weighed
  against a size limit, and the operators and filters that amplify (repetition, powers, padding
  widths, `replace`, `join`) are checked *before* they allocate;
- every write, into the output or a buffer (macro bodies, `{% set %}` blocks), is counted.

The environment that applies these is `gateway.sandbox`. They are what keeps a worker that
renders an operator's template in-process safe; input the API receives for linting is also
rendered in a separate process with a hard timeout (`gateway.render_pool`), so that a gap in these
limits cannot stall the API.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2.utils import Namespace

MAX_VALUE = 100_000  # characters of any one string a template builds
MAX_NODES = 10_000  # elements of any one list, dict or nesting of them
MAX_WIDTH = 1_000  # a padding width, an indent, a batch size, a format width
MAX_RANGE = 10_000  # items of one range()
MAX_STEPS = 100_000  # loop iterations and calls per render
MAX_WRITTEN = 500_000  # characters written per render, buffers included
MAX_BITS = 10_000  # size of an integer a template computes (~3,000 digits)
TIME_S = 0.5  # CPU seconds


class TemplateTooCostly(Exception):
    """A template went over its budget; the message says which limit and is shown to the user."""


@dataclass(slots=True)
class Budget:
    deadline: float
    steps: int = MAX_STEPS
    written: int = MAX_WRITTEN

    def step(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise TemplateTooCostly(f"more than {MAX_STEPS:,} loop iterations and calls")
        if time.thread_time() > self.deadline:
            raise TemplateTooCostly("rendering took too long")

    def write(self, size: int) -> None:
        self.written -= size
        if self.written < 0:
            raise TemplateTooCostly(f"more than {MAX_WRITTEN:,} characters written")


_BUDGET: ContextVar[Budget | None] = ContextVar("render_budget", default=None)


@contextmanager
def budget(time_s: float = TIME_S) -> Iterator[Budget]:
    """A fresh budget for the renders inside the block."""
    current = Budget(time.thread_time() + time_s)
    token = _BUDGET.set(current)
    try:
        yield current
    finally:
        _BUDGET.reset(token)


def current() -> Budget:
    current = _BUDGET.get()
    if current is None:  # rendered outside `budget()`: still bounded, with the default
        current = Budget(time.thread_time() + TIME_S)
        _BUDGET.set(current)
    return current


_SCALARS = (int, float, bool, type(None))


def weigh(value: Any) -> Any:
    """`value` unchanged, or `TemplateTooCostly` if it is too large; shared parts count each time
    they appear, since that is what printing or comparing them costs."""
    if isinstance(value, _SCALARS):
        if isinstance(value, int) and value.bit_length() > MAX_BITS:
            raise TemplateTooCostly(f"a number larger than {MAX_BITS:,} bits")
        return value
    if isinstance(value, str):
        if len(value) > MAX_VALUE:
            raise TemplateTooCostly(f"a text longer than {MAX_VALUE:,} characters")
        return value
    nodes_seen, chars, stack = 0, 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            chars += len(item)
            if chars > MAX_VALUE:
                raise TemplateTooCostly(f"a value holding more than {MAX_VALUE:,} characters")
            continue
        if isinstance(item, Namespace):
            item = object.__getattribute__(item, "_Namespace__attrs")
        if isinstance(item, dict):
            nodes_seen += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            nodes_seen += len(item)
            stack.extend(item)
        elif isinstance(item, int) and item.bit_length() > MAX_BITS:
            raise TemplateTooCostly(f"a number larger than {MAX_BITS:,} bits")
        if nodes_seen > MAX_NODES:
            raise TemplateTooCostly(f"a value with more than {MAX_NODES:,} elements")
    return value


def too_wide(what: str) -> TemplateTooCostly:
    return TemplateTooCostly(f"{what} is limited to {MAX_WIDTH:,}")


def check_width(value: Any, what: str) -> None:
    if isinstance(value, int) and abs(value) > MAX_WIDTH:
        raise too_wide(what)


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*:([^{}]*)(\{)?")


def check_percent_format(fmt: str) -> None:
    for width, precision in _PERCENT_SPEC.findall(fmt):
        for part in (width, precision):
            if part == "*" or (part and int(part) > MAX_WIDTH):
                raise too_wide("a format width")


def check_brace_format(fmt: str) -> None:
    for spec, nested in _BRACE_SPEC.findall(fmt):
        if nested or any(int(d) > MAX_WIDTH for d in re.findall(r"\d+", spec)):
            raise too_wide("a format width")


def check_repeat(left: Any, right: Any) -> None:
    """Refuse `sequence * n` and `int * int` beyond the limits before they are computed."""
    if isinstance(left, int) and isinstance(right, str | list | tuple):
        left, right = right, left
    if isinstance(left, str | list | tuple) and isinstance(right, int):
        if isinstance(left, str) and len(left) * right > MAX_VALUE:
            raise TemplateTooCostly(f"a text longer than {MAX_VALUE:,} characters")
        if not isinstance(left, str) and len(left) * right > MAX_NODES:
            raise TemplateTooCostly(f"a list with more than {MAX_NODES:,} elements")
    elif (
        isinstance(left, int)
        and isinstance(right, int)
        and left.bit_length() + right.bit_length() > MAX_BITS
    ):
        raise TemplateTooCostly(f"a number larger than {MAX_BITS:,} bits")


def check_power(base: Any, exponent: Any) -> None:
    if not (isinstance(base, int) and isinstance(exponent, int)) or abs(base) < 2:
        return
    if (abs(base).bit_length() - 1) * exponent > MAX_BITS:
        raise TemplateTooCostly(f"a number larger than {MAX_BITS:,} bits")


def check_replace(text: Any, old: Any, new: Any) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        grows = (text.count(old) if old else len(text) + 1) * len(new)
        if len(text) + grows > MAX_VALUE:
            raise TemplateTooCostly(f"a text longer than {MAX_VALUE:,} characters")


def joined(items: Iterable[Any], sep: Any) -> list[Any]:
    listed = weigh(list(items))
    if isinstance(sep, str) and len(sep) * len(listed) > MAX_VALUE:
        raise TemplateTooCostly(f"a text longer than {MAX_VALUE:,} characters")
    return listed
