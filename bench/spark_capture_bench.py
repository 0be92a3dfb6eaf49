"""Lineage capture overhead on the seed's Glue job (issue 4): capture on vs off, same JVM, same run.

    .venv/bin/python bench/spark_capture_bench.py [--rounds 7]

Runs scenario 1 (MariaDB over JDBC + S3 CSV -> join -> parquet + catalog table) on one local SparkSession, rounds
alternating capture off and on, and prints the median wall time of each, the overhead (absolute, relative, per
write action) and where the capture's own time goes. Needs the local MariaDB (root over TCP, as on CI machines).
Target: < 3% of wall time or < 150 ms per write action.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lineagelab.simulator.seed_live import demo_profile, steps
from lineagelab.spark_local import runner


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="lineagelab-bench-"))
    prof = demo_profile(home)
    seed_step = next(iter(steps(home, prof)))[1]
    seed_step()  # MySQL employee table, logins, CSVs in the lake
    script = runner.read_script(Path(runner.__file__).parents[1] / "simulator" / "seed" / "lineageglue.py",
                                prof.account)
    conf = {"spark.glue.JOB_NAME": "lineageglue"}

    def once(capture: bool) -> tuple[float, runner.RunResult]:
        t0 = time.perf_counter()
        res = runner.run(script, app_name="lineageglue", profile=prof, argv=["--JOB_NAME", "lineageglue"],
                         conf=conf, home=home, capture=capture)
        if res.error is not None:
            raise SystemExit(f"the Glue job failed: {runner.format_error(res.error)}")
        return time.perf_counter() - t0, res

    t_start = time.perf_counter()
    once(False)  # JVM start, JIT warm-up, metastore creation: not measured
    once(True)
    print(f"warm-up (session start + first runs): {time.perf_counter() - t_start:.1f} s", file=sys.stderr)
    off: list[float] = []
    on: list[float] = []
    writes = 0
    for _ in range(args.rounds):
        t, _res = once(False)
        off.append(t)
        t, res = once(True)
        on.append(t)
        writes = res.writes
    m_off, m_on = statistics.median(off), statistics.median(on)
    delta = m_on - m_off
    print(f"scenario 1 (seed Glue job), {args.rounds} rounds each, median wall time per run:")
    print(f"  capture off : {m_off * 1000:8.1f} ms   (min {min(off) * 1000:.1f})")
    print(f"  capture on  : {m_on * 1000:8.1f} ms   (min {min(on) * 1000:.1f}), {writes} write action(s), "
          f"4 events")
    print(f"  overhead    : {delta * 1000:+8.1f} ms = {delta / m_off * 100:+.1f}% of wall time, "
          f"{delta / max(writes, 1) * 1000:+.1f} ms per write action (target < 3% or < 150 ms)")
    _spot(script, prof, home, conf)


def _spot(script: Any, prof: Any, home: Path, conf: dict[str, str]) -> None:
    """Where the capture's own time goes: the listener callbacks (on Spark's listener thread) and the flush."""
    from lineagelab.spark_local import capture as cap

    spent: list[float] = []
    orig = cap.read_write

    def timed(*a: Any, **k: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return orig(*a, **k)
        finally:
            spent.append(time.perf_counter() - t0)

    cap.read_write = timed  # type: ignore[assignment]
    try:
        runner.run(script, app_name="lineageglue", profile=prof, argv=["--JOB_NAME", "lineageglue"], conf=conf,
                   home=home)
    finally:
        cap.read_write = orig  # type: ignore[assignment]
    print(f"  plan reading: {len(spent)} write executions read in {sum(spent) * 1000:.1f} ms "
          f"(on the listener thread, off the job's critical path until the final flush)")


if __name__ == "__main__":
    main()
