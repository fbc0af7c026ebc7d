"""The budgeted Jinja sandbox: Jinja's immutable sandbox, metered by `gateway.render_budget`.

The metering is compiled into each template: the parsed tree is rewritten so that every loop's
iterable, every literal list, tuple, dict and `~`, and every piece of output passes through a
small filter that counts or weighs it. Calls, the amplifying operators and every filter are
checked by the environment itself. Mutating methods (`list.append`, `dict.update`) are refused by
the immutable sandbox, so a template cannot grow a value without building a new one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from typing import Any

from jinja2 import nodes, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from gateway import render_budget as rb

# String methods that pad to a width given as an argument.
_PADDING = {"center", "ljust", "rjust", "zfill", "expandtabs"}


def _range(*args: int) -> range:
    try:
        numbers = range(*args)
        size = len(numbers)
    except OverflowError:
        size = rb.MAX_RANGE + 1
    if size > rb.MAX_RANGE:
        raise rb.TemplateTooCostly(f"a range is limited to {rb.MAX_RANGE:,} items")
    return numbers


@pass_context
def _each(_: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    meter = rb.current()
    for item in iterable:
        meter.step()
        yield item


@pass_context
def _weigh(_: Context, value: Any) -> Any:
    return rb.weigh(value)


@pass_context
def _written(_: Context, value: Any) -> Any:
    rb.current().write(len(value) if isinstance(value, str) else len(str(rb.weigh(value))))
    return value


def _filter(node: nodes.Node, name: str) -> nodes.Expr:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


class _Metering(NodeTransformer):
    """Rewrites a parsed template so that its loops, literals and output are metered."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _filter(node.iter, "_each")
        return node

    def _weighed(self, node: nodes.Expr) -> nodes.Node:
        self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load":  # an assignment target, not a value
            return node
        return _filter(node, "_weigh")

    visit_List = visit_Tuple = visit_Dict = visit_Concat = _weighed

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [
            nodes.MarkSafeIfAutoescape(_filter(nodes.Const(child.data), "_written"))
            if isinstance(child, nodes.TemplateData)
            else _filter(child, "_written")
            for child in node.nodes
        ]
        return node


def _check_filter_arguments(name: str, bound: inspect.BoundArguments) -> None:
    args = bound.arguments
    if name == "center":
        rb.check_width(args.get("width"), "a padding width")
    elif name in {"batch", "slice"}:
        rb.check_width(args.get("linecount", args.get("slices")), f"the size of {name}")
    elif name == "indent":
        width, text = args.get("width"), str(args.get("s", ""))
        rb.check_width(width, "an indent")
        if isinstance(width, str) and len(width) * (text.count("\n") + 1) > rb.MAX_VALUE:
            raise rb.too_wide("an indent")
    elif name == "wordwrap":
        wrap, text = args.get("wrapstring") or "", str(args.get("s", ""))
        if len(wrap) * len(text) > rb.MAX_VALUE:
            raise rb.too_wide("a wrap string")
    elif name == "replace":
        rb.check_replace(str(args.get("s", "")), args.get("old"), args.get("new"))
    elif name == "format":
        rb.check_percent_format(str(args.get("value", "")))


def _guarded(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` counted as a step, its arguments checked where it amplifies, its result weighed."""
    signature = inspect.signature(func)
    checked = name in {"center", "batch", "slice", "indent", "wordwrap", "replace", "format"}

    @wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        rb.current().step()
        if checked:
            _check_filter_arguments(name, signature.bind(*args, **kwargs))
        if name == "join":
            # join(eval_ctx, value, d=""): the items are listed first so their size is known
            sep = args[2] if len(args) > 2 else kwargs.get("d", "")
            args = (args[0], rb.joined(args[1], sep), *args[2:])
        return rb.weigh(func(*args, **kwargs))

    return guarded


class BudgetedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox for templates that did not ship with the gateway; renders must run inside
    `render_budget.budget()` (or each gets the default budget)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, *, filters: dict[str, Callable[..., Any]], **options: Any) -> None:
        super().__init__(**options)
        self.filters.update(filters)
        self.filters = {name: _guarded(name, f) for name, f in self.filters.items()}
        self.filters.update(_each=_each, _weigh=_weigh, _written=_written)
        self.globals["range"] = _range
        self.globals.pop("lipsum", None)  # up to n paragraphs of filler: nothing a debtor reads

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        _Metering().visit(tree)
        return tree

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            rb.check_repeat(left, right)
        elif operator == "**":
            rb.check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            rb.check_percent_format(left)
        return rb.weigh(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        rb.current().step()
        method = getattr(__obj, "__wrapped__", __obj)  # str.format comes wrapped by the sandbox
        owner, name = getattr(method, "__self__", None), getattr(method, "__name__", "")
        if isinstance(owner, str):
            if name in _PADDING:
                for value in (*args, *kwargs.values()):
                    rb.check_width(value, "a padding width")
            elif name == "replace" and len(args) >= 2:
                rb.check_replace(owner, args[0], args[1])
            elif name == "join" and args:
                args = (rb.joined(args[0], owner), *args[1:])
            elif name in {"format", "format_map"}:
                rb.check_brace_format(owner)
        return rb.weigh(super().call(__context, __obj, *args, **kwargs))
