"""Questions to the lineage: ``lineage``, ``impact``, ``diff``, ``graph``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from lineagelab.cli.shared import (
    EXIT_DIFF,
    AsOfOption,
    ModeOption,
    TableOrJson,
    UserError,
    emit,
    err,
    open_store,
    out,
    parse_mode,
    resolve_node,
    time_range,
)

if TYPE_CHECKING:
    from lineagelab.graph.traverse import Lineage
    from lineagelab.graph.types import Direction

LINEAGE_FORMATS = ("table", "json", "dot", "mermaid")


def print_lineage(lin: Lineage, fmt: str) -> None:
    from lineagelab.graph import render

    if fmt == "json":
        emit(render.to_json(render.lineage_to_dict(lin)))
    elif fmt == "dot":
        emit(render.to_dot(lin))
    elif fmt == "mermaid":
        emit(render.to_mermaid(lin))
    else:
        from lineagelab.graph.tables import lineage_tables

        for table in lineage_tables(lin):
            out.print(table)


def lineage(
    node: Annotated[str, typer.Argument(help="Dataset, job or DATASET::column: full identity or a unique part.")],
    upstream: Annotated[bool, typer.Option("--upstream", help="Only what it depends on.")] = False,
    downstream: Annotated[bool, typer.Option("--downstream", help="Only what depends on it.")] = False,
    both: Annotated[bool, typer.Option("--both", help="Both directions (the default).")] = False,
    depth: Annotated[int, typer.Option("--depth", min=0, help="Edges to follow (dataset→job→dataset is 2).")] = 20,
    columns: Annotated[bool, typer.Option("--columns", help="Add column-level edges between the datasets.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table, json, dot or mermaid")] = "table",
    mode: ModeOption = "latest",
    as_of: AsOfOption = None,
) -> None:
    """Upstream and downstream lineage of a dataset, job or column."""
    if fmt not in LINEAGE_FORMATS:
        raise UserError(f"--format {fmt!r}: choose table, json, dot or mermaid")
    if upstream + downstream + both > 1:
        raise UserError("choose one of --upstream, --downstream, --both")
    direction: Direction = "upstream" if upstream else "downstream" if downstream else "both"
    m = parse_mode(mode, as_of)
    from lineagelab.graph.traverse import column_lineage, table_lineage

    with open_store(read_only=True) as store:
        ref = resolve_node(store.con, node)
        if ref.column is not None:
            lin = column_lineage(store.con, ref, m, direction, depth)
        else:
            lin = table_lineage(store.con, ref.node, m, direction, depth, columns=columns)
        print_lineage(lin, fmt)


def impact(
    node: Annotated[str, typer.Argument(help="Dataset, job or DATASET::column.")],
    upstream: Annotated[bool, typer.Option("--upstream", help="Root cause: what it depends on.")] = False,
    fmt: TableOrJson = "table",
    mode: ModeOption = "latest",
    as_of: AsOfOption = None,
) -> None:
    """Everything downstream that depends on a node (or upstream with --upstream), with the path to each."""
    from lineagelab.graph import render
    from lineagelab.graph.traverse import impact as run_impact

    m = parse_mode(mode, as_of)
    with open_store(read_only=True) as store:
        ref = resolve_node(store.con, node)
        items = run_impact(store.con, ref, m, upstream=upstream)
    if fmt == "json":
        emit(render.to_json(render.impact_to_dict(items)))
        return
    from lineagelab.graph.tables import impact_table

    out.print(impact_table(items, f"{'upstream of' if upstream else 'impact of'} {node} ({m})"))
    out.print(f"{len(items)} {'upstream' if upstream else 'dependent'} nodes")


def diff(
    from_: Annotated[str | None, typer.Option("--from", help="Earlier time.")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Later time (default: now).")] = None,
    runs: Annotated[tuple[str, str] | None, typer.Option(
        "--runs", help="Compare two runs: RUN1 RUN2, each a run id, a unique prefix of one (`lineagelab runs` lists "
                       "them), JOB@latest or JOB@previous.")] = None,
    fmt: TableOrJson = "table",
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", help="Exit 3 if any of these (comma-separated) occur: removed-edges, removed-columns, "
                          "removed-datasets, removed-jobs, removed-column-edges, added-…, schema-changes, any.",
    )] = None,
) -> None:
    """What changed in the lineage between two times or two runs."""
    from datetime import UTC, datetime

    from lineagelab.graph import diff as d
    from lineagelab.graph import render

    conditions = [c.strip() for c in fail_on.split(",") if c.strip()] if fail_on else []
    for c in conditions:
        if c not in d.FAIL_ON:
            raise UserError(f"--fail-on {c!r}: choose from {', '.join(d.FAIL_ON)}")
    with open_store(read_only=True) as store:
        if runs:
            try:
                result = d.compare_runs(store.con, runs[0], runs[1])
            except d.RunNotFound as exc:
                raise UserError(str(exc)) from None
        else:
            if from_ is None:
                raise UserError("give --from TIME (and optionally --to TIME), or --runs RUN1 RUN2")
            t1, t2_given = time_range(from_, to, "--from", "--to")
            assert t1 is not None
            t2 = t2_given or datetime.now(UTC)
            if t1 > t2:
                raise UserError(f"--from {from_} is in the future")
            result = d.compare_times(store.con, t1, t2)
    emit(render.to_json(result) if fmt == "json" else render.diff_text(result))
    hits = d.violations(result, conditions)
    if hits:
        err.print(f"lineage guard failed: {', '.join(hits)}")
        raise typer.Exit(EXIT_DIFF)


def graph(
    fmt: Annotated[str, typer.Option("--format", help="tree, json, dot or mermaid")] = "tree",
    mode: ModeOption = "latest",
    as_of: AsOfOption = None,
) -> None:
    """The whole lineage graph: every job with what it reads and writes."""
    from lineagelab.graph import render
    from lineagelab.graph.traverse import whole_graph

    m = parse_mode(mode, as_of)
    with open_store(read_only=True) as store:
        lin = whole_graph(store.con, m)
    if fmt != "tree":
        print_lineage(lin, fmt)
        return
    emit(render.graph_tree(lin))
