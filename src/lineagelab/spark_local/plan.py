"""Column lineage from a Spark analyzed plan, as ``LogicalPlan.toJSON()`` serialises it.

Pure Python over data: no JVM here, so it unit-tests from saved plan JSON. Spark serialises a tree as a pre-order list
of nodes, each with ``num-children`` and child fields that index its children (``"child": 0``, ``"left": 0``,
``"children": [0, 1]``); an expression field holds such a list of its own (a list of them for expression lists).

Attributes are followed by ``exprId``: a leaf relation's output attributes are the sources; every Project, Aggregate
and Window alias composes the transformations of the attributes it reads. Rules (openlineage-spark's):

* ``Alias(attr)`` is DIRECT/IDENTITY, an expression with an aggregate function DIRECT/AGGREGATION, anything else
  DIRECT/TRANSFORMATION; CASE/IF predicates are INDIRECT/CONDITIONAL.
* Join conditions, filters (the optimizer's inferred ones too), group-by keys (DISTINCT's columns) and sort keys
  are dataset-wide INDIRECT dependencies (JOIN, FILTER, GROUP_BY, SORT); a window's partition/order keys are
  INDIRECT/WINDOW of the windowed column alone; COALESCE/NVL arguments are also INDIRECT/CONDITIONAL.
* Along a path INDIRECT wins; else the lower of AGGREGATION < TRANSFORMATION < IDENTITY; masking is OR-ed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

_RANK = {"AGGREGATION": 0, "TRANSFORMATION": 1, "IDENTITY": 2}
# a value passes through these unchanged (a CASE branch, IF's then/else, COALESCE's arguments, aliases)
_PASS_VALUE = {"Alias", "CaseWhen", "If", "Coalesce", "WindowExpression", "KnownNotNull",
               "Nvl", "NullIf", "Nvl2", "IfNull", "NullIfResult"}  # the last: NVL & co. as the optimizer rewrites them
_NULL_CHECKS = {"Coalesce", "Nvl", "IfNull"}
_RANKING = {"Rank", "DenseRank", "PercentRank", "CumeDist", "RowNumber", "NTile"}
_MASKING = {"Sha1", "Sha2", "Md5", "Crc32", "Murmur3Hash", "XxHash64", "Mask", "Count", "HyperLogLogPlusPlus"}


@dataclass(frozen=True, order=True)
class Tx:
    """One transformation of an input field into an output field."""

    type: str
    subtype: str
    masking: bool = False


IDENTITY = Tx("DIRECT", "IDENTITY")


def compose(inner: Tx, outer: Tx) -> Tx:
    """The transformation along a path: ``inner`` (source -> middle) then ``outer`` (middle -> output)."""
    masking = inner.masking or outer.masking
    if outer.type == "INDIRECT":
        return Tx("INDIRECT", outer.subtype, masking)
    if inner.type == "INDIRECT":
        return Tx("INDIRECT", inner.subtype, masking)
    subtype = min(inner.subtype, outer.subtype, key=lambda s: _RANK.get(s, 1))
    return Tx("DIRECT", subtype, masking)


@dataclass
class Node:
    cls: str  # short class name, e.g. "Project"
    fields: dict[str, Any]
    children: list[Node]

    def child(self, name: str) -> Node | None:
        i = self.fields.get(name)
        return self.children[i] if isinstance(i, int) and 0 <= i < len(self.children) else None


def tree(nodes: Sequence[dict[str, Any]]) -> Node:
    """Rebuild a tree from Spark's pre-order node list."""
    it = iter(nodes)

    def build() -> Node:
        raw = next(it)
        kids = [build() for _ in range(int(raw.get("num-children", 0)))]
        return Node(str(raw.get("class", "")).rsplit(".", 1)[-1], raw, kids)

    return build()


def _expr(value: Any) -> Node | None:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return tree(value)
    return None


def _exprs(value: Any) -> list[Node]:
    """An expression-list field: a list of pre-order lists."""
    if isinstance(value, list):
        return [e for v in value if (e := _expr(v)) is not None]
    return []


def expr_id(e: Node) -> int | None:
    ident = e.fields.get("exprId")
    return int(ident["id"]) if isinstance(ident, dict) and "id" in ident else None


@dataclass(frozen=True)
class Attr:
    id: int
    name: str
    type: str


def _attr(e: Node) -> Attr | None:
    i = expr_id(e)
    if i is None:
        return None
    return Attr(i, str(e.fields.get("name", "")), str(e.fields.get("dataType", "")))


def _refs(e: Node, outer: Tx, common: tuple[Node, ...] = ()) -> Iterator[tuple[int, Tx]]:
    """Attribute references in an expression, each with how the expression transforms it.

    ``common``: the definitions a ``With`` shares (NULLIF's operand); their ids do not serialise, so a
    ``CommonExpressionRef`` stands for all of them (one, in the expressions Spark builds today).
    """
    if e.cls in ("AttributeReference", "OuterReference"):
        i = expr_id(e)
        if i is not None:
            yield i, outer
        return
    if e.cls == "CommonExpressionRef":
        for d in common:
            yield from _refs(d, outer)
        return
    if e.cls == "With" and e.children:
        defs = tuple(c for d in e.children[1:] for c in d.children)
        yield from _refs(e.children[0], outer, defs)
        return
    if e.cls in _RANKING:  # rank() and friends carry their window's order keys as children: no value flows
        return
    here = outer
    if e.cls == "AggregateExpression" and outer.type == "DIRECT":
        here = Tx("DIRECT", "AGGREGATION", outer.masking)
    elif e.cls not in _PASS_VALUE and outer.type == "DIRECT" and outer.subtype == "IDENTITY":
        here = Tx("DIRECT", "TRANSFORMATION", outer.masking)
    if e.cls in _MASKING:
        here = Tx(here.type, here.subtype, True)
    n = len(e.children)
    for k, c in enumerate(e.children):
        t = here
        if (e.cls == "CaseWhen" and k % 2 == 0 and k < n - (n % 2)) or (e.cls in ("If", "NullIfResult") and k == 0):
            t = Tx("INDIRECT", "CONDITIONAL", here.masking)
        elif e.cls in _NULL_CHECKS:  # every argument is both null-checked and a possible value
            yield from _refs(c, Tx("INDIRECT", "CONDITIONAL", here.masking), common)
        elif e.cls == "WindowSpecDefinition":  # partition and order keys shape the windowed column
            t = Tx("INDIRECT", "WINDOW", here.masking)
        yield from _refs(c, t, common)


@dataclass
class Leaf:
    """A leaf of the plan: a relation whose attributes are sources (what dataset it is, the capture decides)."""

    node: Node
    output: list[Attr]


@dataclass
class PlanLineage:
    leaves: list[Leaf] = field(default_factory=list)
    # exprId -> {source exprId -> transformations}
    columns: dict[int, dict[int, set[Tx]]] = field(default_factory=dict)
    # dataset-wide dependencies: source exprId -> transformations
    dataset: dict[int, set[Tx]] = field(default_factory=dict)
    output: list[Attr] = field(default_factory=list)
    ctes: dict[int, list[Attr]] = field(default_factory=dict)  # CTERelationDef id -> its output

    def sources(self, attr_id: int) -> dict[int, set[Tx]]:
        return self.columns.get(attr_id, {})


_LEAF_OUTPUT = ("output",)
# Python functions over whole rows (mapInArrow/mapInPandas; Glue's Map): which input makes which output is unknown,
# so their outputs have no column sources and every input column is a dataset-wide dependency
_OPAQUE = {"MapInArrow", "MapInPandas", "PythonMapInArrow"}
_PASS = {"SubqueryAlias", "View", "Repartition", "RepartitionByExpression", "GlobalLimit", "LocalLimit",
         "DeduplicateWithinWatermark", "ResolvedHint", "Sample", "Tail", "Offset", "RebalancePartitions", "Intersect",
         "Except"}


def analyze(plan: Node) -> PlanLineage:
    """Column lineage of ``plan``'s output attributes back to its leaves' attributes."""
    out = PlanLineage()
    out.output = _visit(plan, out)
    return out


def _derive(out: PlanLineage, target: int, e: Node, base: Tx = IDENTITY) -> None:
    acc: dict[int, set[Tx]] = {}
    for ref, tx in _refs(e, base):
        for src, txs in out.columns.get(ref, {ref: {IDENTITY}}).items():
            acc.setdefault(src, set()).update(compose(t, tx) for t in txs)
    out.columns[target] = acc


def _ref_node(a: Attr) -> Node:
    """An attribute as an expression node (to treat a node's output columns as keys)."""
    return Node("AttributeReference", {"exprId": {"id": a.id}, "name": a.name}, [])


def _indirect(out: PlanLineage, exprs: Iterable[Node], subtype: str) -> None:
    tx = Tx("INDIRECT", subtype)
    for e in exprs:
        for ref, _ in _refs(e, tx):
            for src, txs in out.columns.get(ref, {ref: {IDENTITY}}).items():
                out.dataset.setdefault(src, set()).update(compose(t, tx) for t in txs)


def _named(out: PlanLineage, exprs: list[Node]) -> list[Attr]:
    """Output attributes of a named-expression list (Project, Aggregate, Window)."""
    attrs: list[Attr] = []
    for e in exprs:
        if e.cls == "Alias":
            i = expr_id(e)
            if i is None:
                continue
            child = e.children[0] if e.children else None
            dtype = ""
            if child is not None:
                dtype = str(child.fields.get("dataType", ""))
                _derive(out, i, child)
            attrs.append(Attr(i, str(e.fields.get("name", "")), dtype))
        elif (a := _attr(e)) is not None:
            attrs.append(a)
    return attrs


def _visit(node: Node, out: PlanLineage) -> list[Attr]:
    query = _expr(node.fields.get("query"))
    if not node.children and query is not None:  # commands serialise their query inline
        return _visit(query, out)
    kids = [_visit(c, out) for c in node.children]
    cls, f = node.cls, node.fields
    if not node.children:
        attrs = [a for e in _exprs(f.get("output")) if (a := _attr(e)) is not None]
        if cls == "CTERelationRef":  # not a source: its columns are the CTE definition's, by position
            for a, d in zip(attrs, out.ctes.get(int(f.get("cteId", -1)), []), strict=False):
                out.columns[a.id] = out.columns.get(d.id, {d.id: {IDENTITY}})
            return attrs
        for a in attrs:
            out.columns[a.id] = {a.id: {IDENTITY}}
        out.leaves.append(Leaf(node, attrs))
        return attrs
    if cls in _OPAQUE:
        opaque = Tx("INDIRECT", "TRANSFORMATION")
        for a in kids[0]:
            for src, txs in out.columns.get(a.id, {a.id: {IDENTITY}}).items():
                out.dataset.setdefault(src, set()).update(compose(t, opaque) for t in txs)
        attrs = [a for e in _exprs(f.get("output")) if (a := _attr(e)) is not None]
        out.columns.update({a.id: {} for a in attrs})
        return attrs
    if cls == "Project":
        return _named(out, _exprs(f.get("projectList")))
    if cls == "Aggregate":
        groups = _exprs(f.get("groupingExpressions"))
        _indirect(out, groups, "GROUP_BY")
        return _named(out, _exprs(f.get("aggregateExpressions")))
    if cls == "Window":  # partition/order keys reach each windowed column through its WindowSpecDefinition
        return kids[0] + _named(out, _exprs(f.get("windowExpressions")))
    if cls == "Distinct":  # DISTINCT groups by every column (the optimizer makes it an Aggregate)
        _indirect(out, [_ref_node(a) for a in kids[0]], "GROUP_BY")
        return kids[0]
    if cls == "Deduplicate":
        _indirect(out, _exprs(f.get("keys")), "GROUP_BY")
        return kids[0]
    if cls == "WithCTE":  # children are the CTE definitions, then the plan that reads them
        return kids[-1]
    if cls == "CTERelationDef":
        out.ctes[int(f.get("id", -1))] = kids[0]
        return kids[0]
    if cls == "Filter":
        if (c := _expr(f.get("condition"))) is not None:
            _indirect(out, [c], "FILTER")
        return kids[0]
    if cls == "Join":
        if (c := _expr(f.get("condition"))) is not None:
            _indirect(out, [c], "JOIN")
        jt = str((f.get("joinType") or {}).get("object", "")) if isinstance(f.get("joinType"), dict) else ""
        if "LeftSemi" in jt or "LeftAnti" in jt or "ExistenceJoin" in jt:
            return kids[0]
        return kids[0] + (kids[1] if len(kids) > 1 else [])
    if cls == "Sort":
        _indirect(out, _exprs(f.get("order")), "SORT")
        return kids[0]
    if cls == "Union":
        first = kids[0]
        for other in kids[1:]:
            for a, b in zip(first, other, strict=False):
                merged = out.columns.setdefault(a.id, {})
                for src, txs in out.columns.get(b.id, {b.id: {IDENTITY}}).items():
                    merged.setdefault(src, set()).update(txs)
        return first
    if cls == "Generate":
        gen = _expr(f.get("generator"))
        attrs = [a for e in _exprs(f.get("generatorOutput")) if (a := _attr(e)) is not None]
        for a in attrs:
            if gen is not None:
                _derive(out, a.id, gen, Tx("DIRECT", "TRANSFORMATION"))
        return kids[0] + attrs
    if cls == "Expand":
        # GROUPING SETS / CUBE / ROLLUP: output attrs take every projection's expression at their position
        attrs = [a for e in _exprs(f.get("output")) if (a := _attr(e)) is not None]
        projections = f.get("projections") or []
        for a_pos, a in enumerate(attrs):
            acc: dict[int, set[Tx]] = {}
            for proj in projections:
                exprs = _exprs(proj)
                if a_pos < len(exprs):
                    _derive(out, a.id, exprs[a_pos])
                    for src, txs in out.columns.get(a.id, {}).items():
                        acc.setdefault(src, set()).update(txs)
            out.columns[a.id] = acc
        return attrs
    if cls in _PASS or len(kids) == 1:
        return kids[0]
    return [a for k in kids for a in k]


def has_join(nodes: Sequence[dict[str, Any]]) -> bool:
    """Does a plan's JSON join anything (inline command queries included)?"""
    return any(_nodes_of_class(nodes, "Join"))


def _nodes_of_class(nodes: Sequence[Any], cls: str) -> Iterator[dict[str, Any]]:
    for raw in nodes:
        if not isinstance(raw, dict):
            continue
        if str(raw.get("class", "")).rsplit(".", 1)[-1] == cls:
            yield raw
        query = raw.get("query")
        if isinstance(query, list):
            yield from _nodes_of_class(query, cls)


def add_optimized_filters(lineage: PlanLineage, optimized: Sequence[dict[str, Any]]) -> None:
    """FILTER dependencies of the optimized plan too: the optimizer infers filters across joins (``a IS NOT NULL``
    on both sides of ``t1.a = t2.a``) that the analyzed plan does not state. Its attributes keep their exprIds."""
    tx = Tx("INDIRECT", "FILTER")
    for raw in _nodes_of_class(optimized, "Filter"):
        cond = _expr(raw.get("condition"))
        if cond is None:
            continue
        for ref, _ in _refs(cond, tx):
            for src, txs in lineage.columns.get(ref, {}).items():
                lineage.dataset.setdefault(src, set()).update(compose(t, tx) for t in txs)
