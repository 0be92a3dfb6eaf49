"""``runs``: which runs there were, of which jobs, in which state, and what each read and wrote."""

from __future__ import annotations

from typing import Annotated

import typer

from lineagelab.cli.shared import TableOrJson, UserError, emit, open_store, out, resolve_node, time_range

FORMATS = ("table", "json")


def runs(
    job: Annotated[str | None, typer.Argument(help="Only this job's runs (a Spark application's: its writes' too).")]
    = None,
    since: Annotated[str | None, typer.Option("--since", help="Only runs started at or after this time.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Only runs started at or before this time.")] = None,
    state: Annotated[str | None, typer.Option("--state", help="Only runs in this state: complete, fail, abort, "
                                                              "running or other.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many runs, newest first.")] = 50,
    fmt: TableOrJson = "table",
) -> None:
    """List runs, newest first: id, job, state, start, duration, inputs → outputs (ids work with `diff --runs`)."""
    from lineagelab.graph.render import runs_to_dicts, to_json
    from lineagelab.graph.tables import runs_table
    from lineagelab.graph.traverse import application_children
    from lineagelab.store.queries_runs import STATES, list_runs

    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: choose table or json")
    if state is not None and state.upper() not in STATES:
        raise UserError(f"--state {state!r}: choose {', '.join(s.lower() for s in STATES)}")
    t1, t2 = time_range(since, until, "--since", "--until")
    with open_store(read_only=True) as store:
        job_ids = None
        if job is not None:
            node = resolve_node(store.con, job).node
            if node.kind != "job":
                raise UserError(f"{job!r} is a dataset ({node.key}): `runs` takes a job")
            job_ids = [node.id, *application_children(store.con, node)]
        rows = list_runs(store.con, job_ids, t1, t2, state.upper() if state else None, limit)
    if fmt == "json":
        emit(to_json(runs_to_dicts(rows)))
        return
    out.print(runs_table(rows))
    out.print(f"{len(rows)} run(s)" + (f" (the newest {limit}; --limit shows more)" if len(rows) == limit else ""))
