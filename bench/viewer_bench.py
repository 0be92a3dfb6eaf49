"""First render of a large lineage graph in headless Chromium (issue 6), from the offline HTML export.

    .venv/bin/python bench/viewer_bench.py [--jobs 850] [--rounds 5]

Builds a synthetic store (layered pipeline, ~2,000 dataset and job nodes), exports it with ``lineagelab export
html``, opens the file in Debian's Chromium and reads, per round: navigation start -> the frame after the graph's
first draw (the figure users feel), and the viewer's own render() time (data to laid out, before drawing).
Baseline in the same run: the same page with the graph reduced to 20 nodes (the fixed cost of parsing ~2 MB of
script and starting up). Target: < 1.5 s for 2,000 nodes.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lineagelab.simulator.synthetic import Shape, events
from lineagelab.store.sources import Documents
from lineagelab.store.store import Store

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def export(jobs: int, where: Path) -> tuple[Path, int]:
    store = where / f"s{jobs}.duckdb"
    with Store.open(store) as s:
        s.ingest(Documents(list(events(Shape(jobs=jobs, runs_per_job=1, columns=4, layers=8))), "bench"))
        nodes = s.con.execute("SELECT (SELECT count(*) FROM datasets) + (SELECT count(*) FROM jobs)").fetchone()
    out = where / f"s{jobs}.html"
    subprocess.run([sys.executable, "-m", "lineagelab", "--store", str(store), "export", "html", str(out)],
                   check=True, capture_output=True)
    return out, int(nodes[0]) if nodes else 0


def measure(browser: object, page_url: str, rounds: int) -> tuple[list[float], list[float], str]:
    first: list[float] = []
    render: list[float] = []
    status = ""
    for _ in range(rounds):
        page = browser.new_page(viewport={"width": 1600, "height": 1000})  # type: ignore[attr-defined]
        page.goto(page_url)
        deadline = time.monotonic() + 120
        while not page.evaluate("document.body.dataset.firstPaintAt"):
            if time.monotonic() > deadline:
                raise SystemExit(f"no render: {page.text_content('#status')}")
            page.wait_for_timeout(10)
        first.append(float(page.evaluate("document.body.dataset.firstPaintAt")))
        render.append(float(page.evaluate("document.body.dataset.renderMs")))
        status = str(page.text_content("#status"))
        page.close()
    return first, render, status


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=850)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        big, n_big = export(args.jobs, Path(tmp))
        small, n_small = export(8, Path(tmp))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            f_small, r_small, s_small = measure(browser, small.as_uri(), args.rounds)
            f_full, r_full, s_full = measure(browser, big.as_uri() + "?budget=100000", args.rounds)
            f_def, r_def, s_def = measure(browser, big.as_uri(), args.rounds)
            browser.close()
    med = statistics.median
    print(f"headless Chromium, offline export, median of {args.rounds} page loads (navigation start -> first frame "
          "drawn):")
    print(f"  baseline, {n_small} nodes         : {med(f_small):7.0f} ms  (render() {med(r_small):.0f} ms)  "
          f"[{s_small}]")
    print(f"  {n_big} nodes, whole graph      : {med(f_full):7.0f} ms  (render() {med(r_full):.0f} ms)  "
          f"= {med(f_full) / med(f_small):.1f}x baseline  [{s_full.split(' · ')[0]}]")
    print(f"  {n_big} nodes, default view      : {med(f_def):7.0f} ms  (render() {med(r_def):.0f} ms)  "
          f"[{s_def.split(' · ')[0]}]")
    print("  target: first render of a 2,000-node graph < 1,500 ms")


if __name__ == "__main__":
    main()
