"""The bulk ingest without C against the C path it replaced (commit cb178e7), same files, same run (issue 20).

    .venv/bin/python bench/ingest_vs_c.py [--events 20000] [--pairs 5] [--c-tree DIR]

A git worktree of cb178e7 is made under bench/out/ (``git worktree add --detach``) and its C extensions built in
place (setuptools' ``build_ext --inplace``; a C compiler is needed), unless ``--c-tree`` names one already built. On
the synthetic and the seed-shaped files of ``store_bench.py``, each path runs as the CLI does (``lineagelab --store
NEW ingest -q FILE``, a fresh store each time), alternately, for several pairs: the machine is shared and its speed
varies, so the figure is the median of the pairs' ratios. Each path's events/s is also given against plain
``orjson.loads`` of the same file, and the two stores of the last pair must hold the same events, facts and model.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lineagelab.simulator.synthetic import Shape, events
from store_bench import OUT, seed_shaped

ROOT = Path(__file__).resolve().parents[1]
BASE_COMMIT = "cb178e7"
TARGET = 0.75


def c_tree(given: Path | None) -> Path:
    """A worktree of the C path's commit with its extensions built in place."""
    if given is not None:
        return given
    tree = OUT / f"c-{BASE_COMMIT}"
    if not (tree / "src").exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), BASE_COMMIT], check=True,
                       capture_output=True)
    if not list((tree / "src" / "lineagelab" / "store").glob("_fast*.so")):
        # The extensions of its pyproject.toml, built from a folder without one: this venv's setuptools may be older
        # than the one that file asks for (pip builds in an isolated environment, which needs the network).
        src, yy = tree / "src" / "lineagelab", tree / "third_party" / "yyjson"
        flags = ["-O2", "-Wall", "-Wno-missing-field-initializers"]
        exts = [("lineagelab.store._derive", [src / "store" / "_derive.c"], []),
                ("lineagelab.events._check", [src / "events" / "_check.c"], []),
                ("lineagelab.store._fast", [src / "store" / "_fast.c", yy / "yyjson.c"], [yy, src / "events"])]
        code = ("from setuptools import Extension, setup\n"
                f"setup(name='lineagelab-c', package_dir={{'': {str(tree / 'src')!r}}}, ext_modules=["
                + ", ".join(f"Extension({name!r}, {[str(x) for x in sources]!r}, "
                            f"include_dirs={[str(x) for x in inc]!r}, extra_compile_args={flags!r})"
                            for name, sources, inc in exts)
                + "], script_args=['build_ext', '--inplace'])\n")
        build = OUT / "c-build"
        build.mkdir(exist_ok=True)
        subprocess.run([sys.executable, "-c", code], cwd=build, check=True, capture_output=True)
    return tree


def synthetic(n_events: int) -> Path:
    path = OUT / f"ingest_{n_events}.ndjson"
    if not path.exists():
        shape = Shape(jobs=n_events // 4, runs_per_job=2, columns=8)
        path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events(shape)))
    return path


def parse_rate(path: Path) -> float:
    """Events/s of plain ``orjson.loads`` of every line (best of three)."""
    lines = path.read_bytes().splitlines()
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        for line in lines:
            orjson.loads(line)
        best = max(best, len(lines) / (time.perf_counter() - t))
    return best


def ingest(src: Path, path: Path, store: Path) -> float:
    """Wall seconds of the CLI's ingest of ``path`` into a fresh ``store``, run from the source tree ``src``."""
    for p in (store, Path(f"{store}.wal")):
        p.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(src)}
    env.pop("LINEAGELAB_PURE_PYTHON", None)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lineagelab", "--store", str(store), "ingest", "-q", str(path)], env=env,
                   check=True, capture_output=True)
    return time.perf_counter() - t


def contents(store: Path) -> dict[str, str]:
    """A digest of each table but ``meta`` (``raw_events`` without the time of ingest): equal stores, equal
    digests."""
    out = {}
    with duckdb.connect(str(store), read_only=True) as con:
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
                                    "AND table_name <> 'meta' ORDER BY 1").fetchall():
            cols = [f'"{r[0]}"' for r in con.execute("SELECT column_name FROM information_schema.columns WHERE "
                                                     "table_name = ? AND column_name <> 'ingested_at'",
                                                     [table]).fetchall()]
            query = f"SELECT count(*), sum(hash({', '.join(cols)})) FROM \"{table}\""
            out[table] = str(con.execute(query).fetchone())
    return out


def compare(name: str, path: Path, c_src: Path, pairs: int) -> float:
    n = sum(1 for _ in path.open("rb"))
    raw = parse_rate(path)
    stores = {"new": OUT / "vs_new.duckdb", "c": OUT / "vs_c.duckdb"}
    sources = {"new": ROOT / "src", "c": c_src}
    rates: dict[str, list[float]] = {"new": [], "c": []}
    ratios = []
    for i in range(pairs):
        order = ("new", "c") if i % 2 == 0 else ("c", "new")  # neither always runs first
        took = {which: ingest(sources[which], path, stores[which]) for which in order}
        for which, wall in took.items():
            rates[which].append(n / wall)
        ratios.append(took["c"] / took["new"])
    a, b = contents(stores["new"]), contents(stores["c"])
    # tables one layout has and the other lacks (event_warnings, since) must be empty; the others equal
    same = all(a[t] == b[t] for t in a.keys() & b.keys()) and all(
        d[t].startswith("(0,") for d in (a, b) for t in d.keys() ^ (a.keys() & b.keys()))
    new, c = statistics.median(rates["new"]), statistics.median(rates["c"])
    ratio = statistics.median(ratios)
    print(f"{name}: {n:,} events, {path.stat().st_size / n / 1024:.1f} KB avg; orjson.loads {raw:,.0f} events/s")
    print(f"  new (no C)  median {new:>7,.0f} events/s = {new / raw:.1%} of orjson.loads  "
          f"[{', '.join(f'{r:,.0f}' for r in rates['new'])}]")
    print(f"  C {BASE_COMMIT}  median {c:>7,.0f} events/s = {c / raw:.1%} of orjson.loads  "
          f"[{', '.join(f'{r:,.0f}' for r in rates['c'])}]")
    print(f"  new/C median of {pairs} alternating pairs: {ratio:.1%} (target >= {TARGET:.0%}; pairs "
          f"{', '.join(f'{r:.0%}' for r in ratios)}); stores {'equal' if same else 'DIFFER'}")
    return ratio


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--c-tree", type=Path, help="a worktree of cb178e7 with its C extensions built (else made here)")
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    c_src = c_tree(args.c_tree) / "src"
    for name, path in (("synthetic", synthetic(args.events)), ("seed-shaped", seed_shaped(args.events))):
        compare(name, path, c_src, args.pairs)


if __name__ == "__main__":
    main()
