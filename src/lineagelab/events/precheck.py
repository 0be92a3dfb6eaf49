"""An accept-only check of events in C: the spec's schemas compiled into a node table that ``_check.c`` walks.

Validation was the largest stage left in a bulk ingest's workers (~19 us for a 4.9 KB synthetic event in
jsonschema-rs, two thirds of it the facets' own schemas). This check answers VALID, INVALID or UNKNOWN, and
``validate_event`` takes only VALID from it: everything else goes down the reference path (jsonschema-rs, then
fastjsonschema for the error). So the C side needs to be exact only where it says VALID or INVALID; whatever it does
not implement (a keyword, a format it cannot settle, a number it cannot compare, a type it does not know) is UNKNOWN,
and UNKNOWN propagates through ``not``, ``if`` and ``oneOf`` (three-valued logic), so that no negation can turn a
doubt into an acceptance. Tests hold it to jsonschema-rs on the spec's examples, the fixtures and mutated events.

Standard facets are routed by their ``_schemaURL`` with ``facet_schema_ref``, the same rule the reference path uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lineagelab import native
from lineagelab.ingest.reader import parsed_key

VALID, INVALID, UNKNOWN = 1, 0, 2

# node flags
_UNKNOWN, _FALSE, _ROUTE = 1, 2, 4
# type bits
_TYPES = {"null": 1, "boolean": 2, "object": 4, "array": 8, "string": 16, "integer": 32, "number": 64}
_FORMATS = {"uri": 1, "uuid": 2, "date-time": 3}
_OTHER_FORMAT = 9

#: Keywords that assert nothing (annotations and structure): ignored, as a validator does.
_IGNORED = frozenset({"$schema", "$defs", "definitions", "$comment", "title", "description", "example", "examples",
                      "default", "deprecated", "readOnly", "writeOnly", "documentation"})
#: Keywords compiled; any other keyword makes its node UNKNOWN.
_KNOWN = frozenset({"type", "properties", "required", "additionalProperties", "items", "allOf", "anyOf", "oneOf",
                    "not", "if", "then", "else", "$ref", "enum", "const", "format", "dependentRequired", "minimum",
                    "$id"})

Node = tuple[Any, ...]


class _Compiler:
    """Schemas (JSON documents by ``$id``) to the node tuples ``_check.configure`` takes."""

    def __init__(self, by_id: dict[str, dict[str, Any]]) -> None:
        self.by_id = by_id
        self.nodes: list[Node | None] = []
        self.ids: dict[tuple[int, str], int] = {}
        self.keep: list[Any] = []  # compiled schema objects stay alive: ids() are keys
        self.route_containers: set[int] = set()

    def ref(self, ref: str, base: str) -> int:
        """The node of a ``$ref`` (absolute, or a fragment of ``base``); UNKNOWN when it does not resolve."""
        target, _, fragment = ref.partition("#")
        doc_id = target or base
        doc = self.by_id.get(doc_id)
        if doc is None:
            return self.unknown()
        node: Any = doc
        if fragment:
            if not fragment.startswith("/"):
                return self.unknown()  # an anchor: not used by the spec
            for part in fragment[1:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if isinstance(node, dict) and part in node:
                    node = node[part]
                elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                    node = node[int(part)]
                else:
                    return self.unknown()
        return self.schema(node, doc_id)

    def unknown(self) -> int:
        self.nodes.append((_UNKNOWN, *_EMPTY[1:]))
        return len(self.nodes) - 1

    def schema(self, s: Any, base: str) -> int:
        key = (id(s), base)
        if key in self.ids:
            return self.ids[key]
        self.keep.append(s)
        index = len(self.nodes)
        self.ids[key] = index
        self.nodes.append(None)  # reserved: $ref cycles point here
        self.nodes[index] = self._build(s, base)
        return index

    def _build(self, s: Any, base: str) -> Node:
        flags = 0
        if s is True:
            s = {}
        elif s is False:
            flags |= _FALSE
            s = {}
        elif not isinstance(s, dict):
            flags |= _UNKNOWN
            s = {}
        if any(k not in _KNOWN and k not in _IGNORED for k in s):
            flags |= _UNKNOWN
        if "$id" in s and s["$id"] != base:
            flags |= _UNKNOWN  # a nested base URI: not used by the spec
        if id(s) in self.route_containers:
            flags |= _ROUTE
        types = 0
        t = s.get("type")
        for name in [t] if isinstance(t, str) else t if isinstance(t, list) else []:
            if name not in _TYPES:
                flags |= _UNKNOWN
            else:
                types |= _TYPES[name]
        if t is not None and not types:
            flags |= _UNKNOWN

        def sub(v: Any) -> int:
            return self.schema(v, base)

        def subs(v: Any) -> tuple[int, ...]:
            nonlocal flags
            if not isinstance(v, list) or not v:
                flags |= _UNKNOWN
                return ()
            return tuple(sub(x) for x in v)

        properties = s.get("properties", {})
        if not isinstance(properties, dict):
            flags, properties = flags | _UNKNOWN, {}
        props = tuple((parsed_key(k), sub(v)) for k, v in properties.items())
        required = s.get("required", [])
        if not (isinstance(required, list) and all(isinstance(r, str) for r in required)):
            flags, required = flags | _UNKNOWN, []
        addl = s.get("additionalProperties")
        addl_id = -1 if addl is None or addl is True else sub(addl)
        items = s.get("items")
        items_id = -1 if items is None or items is True else sub(items)
        fmt = s.get("format")
        fmt_code = 0 if fmt is None else _FORMATS.get(fmt, _OTHER_FORMAT)
        dep = s.get("dependentRequired", {})
        if not (isinstance(dep, dict) and all(isinstance(v, list) and all(isinstance(x, str) for x in v)
                                              for v in dep.values())):
            flags, dep = flags | _UNKNOWN, {}
        minimum = s.get("minimum")
        if minimum is not None and (isinstance(minimum, bool) or not isinstance(minimum, int | float)):
            flags, minimum = flags | _UNKNOWN, None
        enum = s.get("enum")
        if enum is not None and not isinstance(enum, list):
            flags, enum = flags | _UNKNOWN, None
        ref = s.get("$ref")
        ref_id = -1 if ref is None else self.ref(ref, base) if isinstance(ref, str) else self.unknown()
        return (flags, types, props, tuple(parsed_key(r) for r in required), addl_id, items_id,
                subs(s["allOf"]) if "allOf" in s else (), subs(s["anyOf"]) if "anyOf" in s else (),
                subs(s["oneOf"]) if "oneOf" in s else (),
                sub(s["not"]) if "not" in s else -1, sub(s["if"]) if "if" in s else -1,
                sub(s["then"]) if "then" in s else -1, sub(s["else"]) if "else" in s else -1,
                ref_id, tuple(enum) if enum is not None else None, (s["const"],) if "const" in s else (),
                fmt_code, tuple((parsed_key(k), tuple(parsed_key(x) for x in v)) for k, v in dep.items()), minimum)


class Precheck:
    """The compiled check: ``check(kind, doc)`` is VALID, INVALID or UNKNOWN."""

    def __init__(self, native: Any, roots: dict[str, int]) -> None:
        self._native = native
        self._roots = roots

    def check(self, kind: str, doc: Any) -> int:
        try:
            return int(self._native.check(self._roots[kind], doc))
        except (RecursionError, MemoryError):
            return UNKNOWN


@dataclass(frozen=True)
class Compiled:
    """The spec's schemas as node tuples: what ``_check.configure`` (and the store's fast path) take."""

    nodes: list[Node]
    route: Callable[[str], int]  # a facet's _schemaURL -> its node, -1 for none
    keep: list[Any]  # compiled schema objects: the ids() in the nodes refer to them
    roots: dict[str, int]  # event kind -> its node


def _compile() -> Compiled:
    from lineagelab.events import validation as v

    schemas = v._schemas()
    compiler = _Compiler(schemas.by_id)
    compiler.route_containers.update(id(c) for c in v.facet_containers(schemas.by_id[v.CORE_ID]))
    roots = {k.value: compiler.ref(f"{v.CORE_ID}#/$defs/{k.value}", v.CORE_ID) for k in v.EventKind}
    facet_nodes: dict[str, int] = {}
    for sid in schemas.facet_files.values():
        for name in schemas.by_id[sid].get("$defs", {}):
            facet_nodes[f"{sid}#/$defs/{name}"] = compiler.ref(f"{sid}#/$defs/{name}", sid)

    def route(url: str) -> int:
        ref = v.facet_schema_ref(url)
        return -1 if ref is None else facet_nodes.get(ref, -1)

    built = [n for n in compiler.nodes if n is not None]
    assert len(built) == len(compiler.nodes)  # every reserved slot was filled
    nodes, remap = _simplified(built)
    roots = {k: remap(i, keep_true=True) for k, i in roots.items()}
    facet_nodes.update({ref: remap(i, keep_true=True) for ref, i in facet_nodes.items()})
    return Compiled(nodes, route, compiler.keep, roots)


_EMPTY: Node = (0, 0, (), (), -1, -1, (), (), (), -1, -1, -1, -1, -1, None, (), 0, (), None)


def _simplified(nodes: list[Node]) -> tuple[list[Node], Callable[..., int]]:
    """The same checks in fewer steps: a node that is only a ``$ref`` is replaced by its target, and a node that
    asserts nothing (annotations only) is not visited at all where leaving it out means the same (a property's
    schema, ``additionalProperties``, ``items``, an ``allOf`` member, an ``anyOf`` that it makes always true).
    Measured: 9.8 -> 9.4 us a synthetic event (411 node visits an event before)."""
    def pure_ref(n: Node) -> bool:
        return n[0] == 0 and n[13] >= 0 and n[:13] == _EMPTY[:13] and n[14:] == _EMPTY[14:]

    def target(i: int) -> int:
        seen = set()
        while pure_ref(nodes[i]) and i not in seen:
            seen.add(i)
            i = nodes[i][13]
        return i

    def remap(i: int, keep_true: bool = False) -> int:
        if i < 0:
            return i
        i = target(i)
        return -1 if not keep_true and nodes[i] == _EMPTY else i

    out: list[Node] = []
    for n in nodes:
        (flags, types, props, required, addl, items, all_of, any_of, one_of, not_, if_, then_, else_, ref, enum,
         const, fmt, dep, minimum) = n
        any_ids = tuple(remap(i) for i in any_of)
        out.append((flags, types, tuple((k, remap(i)) for k, i in props), required, remap(addl), remap(items),
                    tuple(j for j in (remap(i) for i in all_of) if j >= 0),
                    () if -1 in any_ids else tuple(remap(i, True) for i in any_of),
                    tuple(remap(i, True) for i in one_of), remap(not_, True), remap(if_, True), remap(then_, True),
                    remap(else_, True), remap(ref), enum, const, fmt, dep, minimum))
    return out, remap


def compiled() -> Compiled:
    """The spec's schemas compiled (once)."""
    return _compiled()


def precheck() -> Callable[[str, Any], int] | None:
    """The native check (built once), or None where ``_check`` did not build or ``LINEAGELAB_PURE_PYTHON`` is set."""
    return _precheck()


def _build() -> Callable[[str, Any], int] | None:
    check = native.module("lineagelab.events._check")
    if check is None:
        return None
    c = compiled()
    check.configure(c.nodes, c.route, c.keep)
    return Precheck(check, c.roots).check


_compiled = native.once(_compile)
_precheck = native.once(_build)
