"""The demo's scenarios: the seed's four (Glue job and notebook, EMR on local Spark against MariaDB, Redshift SQL
on PostgreSQL) run live, or their AWS-shaped sample events with the Redshift SQL run live. Each function runs one
part and returns what happened; the caller shows it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lineagelab.simulator import seed_live

if TYPE_CHECKING:
    from lineagelab.sql.redshift import RunReport

SEED = resources.files("lineagelab.simulator") / "seed"
DEMO_PG_DB = seed_live.DEMO_PG_DB  # the PostgreSQL database the Redshift scenario runs in (dropped and made again)
GLUE_OUTPUT = "attendance_with_emp1"  # the Glue job's output, whose lineage the demo shows with its columns
LIVE_COLUMN = "employee_absence_summary::overtime_hours"  # one column traced across services, live
SAMPLES_COLUMN = "employee_absence_summary::days_absent"  # the same, in the sample events
DAY_TWO = "day 2"  # the live step after which the Glue job's source lost a column: the history diff starts there
SAMPLES_DAYS = ("2024-06-01T12:00:00Z", "2024-06-02T12:00:00Z")  # the sample events' two days, for their diff


def live_available() -> bool:
    """The live scenarios need Java and pyspark."""
    if shutil.which("java") is None:
        return False
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return True


def live_steps(home: Path) -> Iterator[tuple[str, Callable[[], seed_live.Step]]]:
    """The live scenarios in order, each (title, thunk); ``home`` holds the lake and Spark's scratch."""
    return seed_live.steps(home)


def write_samples(home: Path) -> tuple[Path, list[dict[str, Any]]]:
    """Write the sample events into ``home`` (``samples/seed_scenarios.ndjson``, for users to look at); the file
    and the events, for the caller to store."""
    import orjson

    from lineagelab.simulator.seed_samples import sample_events

    docs = list(sample_events())
    sample = home / "samples" / "seed_scenarios.ndjson"
    sample.parent.mkdir(parents=True, exist_ok=True)
    sample.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in docs))
    return sample, docs


@dataclass(frozen=True)
class RedshiftScenario:
    report: RunReport | None  # None: PostgreSQL did not answer
    skipped: str = ""  # why, when it did not


def run_redshift(lake: Path) -> RedshiftScenario:
    """The seed's Redshift SQL on the local PostgreSQL, in a fresh database (dropped first: a rerun starts clean),
    its COPY reading the seed's CSVs from the lake."""
    import psycopg

    from lineagelab.sql.redshift import Target, run_script

    target = Target(database="dev", pg_database=DEMO_PG_DB, lake=lake)
    for name in ("attendance.csv", "employees.csv"):
        dest = target.lake / "datazone-123456789012" / "csv" / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes((SEED / name).read_bytes())
    try:
        with psycopg.connect(target.dsn.format(database="postgres"), autocommit=True, connect_timeout=3) as con:
            con.execute(f"DROP DATABASE IF EXISTS {DEMO_PG_DB} WITH (FORCE)")
        report = run_script((SEED / "redshift.sql").read_text(), target, source="seed redshift.sql")
    except psycopg.OperationalError as exc:
        return RedshiftScenario(None, str(exc).strip().splitlines()[-1])
    return RedshiftScenario(report)
