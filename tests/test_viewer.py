"""The lineage viewer in Debian's Chromium (headless): the served UI and the offline HTML export.

Clicks go to the canvas at a node's rendered position, as a user's would. Screenshots are kept under
``test-artifacts/viewer/``.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lineagelab.server.static_ui import STATIC
from lineagelab.store.sources import Documents
from lineagelab.store.store import Store
from tests.server_fixture import Server, running_server

pytestmark = pytest.mark.skipif(not (STATIC / "index.html").is_file(), reason="viewer not built (scripts/setup.sh)")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "viewer"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


def _evil_event(events: list[dict[str, Any]]) -> dict[str, Any]:
    """A run whose output dataset, column and facet value are markup."""
    e = copy.deepcopy(next(x for x in events if x["eventType"] == "COMPLETE" and x.get("outputs")))
    e["run"]["runId"] = "01900000-0000-7000-8000-00000000e71e"
    e["job"]["name"] = f"evil_job {EVIL}"
    out = e["outputs"][0]
    out["name"] = EVIL
    out["facets"] = {"schema": {**out["facets"]["schema"], "fields": [{"name": EVIL, "type": "<b>bold</b>"}]}}
    e["inputs"] = e["inputs"][:1]
    return e


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import _SAMPLE

    path = tmp_path_factory.mktemp("viewer") / "lineage.duckdb"
    events = copy.deepcopy(_SAMPLE)
    with Store.open(path) as s:
        s.ingest(Documents([*events, _evil_event(events)], "test"))
    return path


@pytest.fixture(scope="module")
def exported(store_path: Path) -> Path:
    out = store_path.parent / "lineage.html"
    subprocess.run([sys.executable, "-m", "lineagelab", "--store", str(store_path), "export", "html", str(out)],
                   check=True, capture_output=True, text=True)
    return out


@pytest.fixture(scope="module")
def server(store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    import shutil

    copy_path = tmp_path_factory.mktemp("served") / "lineage.duckdb"
    shutil.copy(store_path, copy_path)
    with running_server(copy_path, token="viewer-token") as s:
        yield s


class Page:
    """A viewer page, with the few moves a user makes."""

    def __init__(self, page: Any, name: str):
        self.page, self.name = page, name
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.wait_render(1)

    def wait_render(self, n: int, timeout: float = 30.0) -> None:
        # polled from here: wait_for_function evaluates strings, which the export's CSP (rightly) forbids
        deadline = time.monotonic() + timeout
        while self.renders < n:
            assert time.monotonic() < deadline, f"{self.name}: render {n} did not happen; status: " \
                                                f"{self.page.text_content('#status')}; errors {self.errors}"
            self.page.wait_for_timeout(25)

    @property
    def renders(self) -> int:
        return int(self.page.evaluate("Number(document.body.dataset.rendered || 0)"))

    def node_id(self, label_part: str, kind: str | None = None) -> str:
        ids = self.page.evaluate("""([part, kind]) => window.lineagelab.cy().nodes()
            .filter(n => n.data('label').includes(part) && (!kind || n.data('kind') === kind)).map(n => n.id())""",
                                 [label_part, kind])
        assert ids, f"no node labelled {label_part!r}"
        return str(ids[0])

    def click_node(self, node_id: str, double: bool = False) -> None:
        box = self.page.locator("#cy").bounding_box()
        # the first view shows a readable part of the graph: a node outside it is panned to first, as a user would
        pos = self.page.evaluate("""id => { const cy = window.lineagelab.cy(); const n = cy.getElementById(id);
            const p = n.renderedPosition();
            if (p.x < 20 || p.y < 20 || p.x > cy.width() - 20 || p.y > cy.height() - 20) cy.center(n);
            return n.renderedPosition(); }""", node_id)
        x, y = box["x"] + pos["x"], box["y"] + pos["y"]
        if double:
            self.page.mouse.dblclick(x, y)
        else:
            self.page.mouse.click(x, y)

    def shot(self, step: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{self.name}-{step}.png"))


def _walkthrough(p: Page) -> None:
    """Open, details, expand columns, highlight a path, search, time slider, diff — the same on both."""
    page = p.page
    assert "nodes" in page.text_content("#status")
    p.shot("open")
    # details of the Glue output: schema with types, the Glue ARN symlink, runs
    target = p.node_id("attendanceparquet", "dataset")
    p.click_node(target)
    page.wait_for_selector("#details-title")
    assert page.text_content("#details-title") == "s3://datazone-123456789012/attendanceparquet"
    assert "arn:aws:glue:us-west-2:123456789012/table/gluedbname/attendance_with_emp1" in page.text_content("#symlinks")
    assert "EmployeeID" in page.text_content("#schema")
    assert "COMPLETE" in page.text_content("#runs")
    page.locator("#runs a").first.click()
    page.wait_for_selector("#raw-events")
    assert '"eventType": "START"' in page.text_content("#raw-events")
    # expand into columns, click one: its path upstream with transformation types
    before = p.renders
    page.click("#columns-btn")
    p.wait_render(before + 1)
    col = p.node_id("Name", "column")
    before = p.renders
    p.click_node(col)
    p.wait_render(before + 1)  # the datasets on the path open
    page.wait_for_selector("#path-table")
    path = page.text_content("#path-table")
    assert "employeedb.employee::Name" in path and "DIRECT/IDENTITY" in path
    highlighted = page.evaluate("window.lineagelab.cy().elements('.hl').length")
    assert highlighted >= 2
    p.shot("column-path")
    # search and focus
    page.fill("#search", "employee_absence")
    page.wait_for_selector("#search-results li")
    before = p.renders
    page.locator("#search-results li").first.click()
    p.wait_render(before + 1)
    assert "around" in page.text_content("#status")
    assert "employee_absence_summary" in page.text_content("#details-title")
    page.click("#all-btn")
    # time slider to the first run: day 1 only (the notebook's and Redshift's runs came later that day)
    before = p.renders
    page.eval_on_selector("#time", "el => { el.value = '0'; el.dispatchEvent(new Event('input')); }")
    p.wait_render(before + 1)
    assert "as of 2024-06-01" in page.text_content("#status")
    p.shot("time-slider")
    # diff of the two days: the Glue job lost Salary
    page.click("details.diff summary")
    page.select_option("#diff-from", index=0)
    last = page.eval_on_selector("#diff-to", "el => el.options.length - 1")
    page.select_option("#diff-to", index=last)
    before = p.renders
    page.click("#diff-times")
    p.wait_render(before + 1)
    changes = page.text_content("#diff-list")
    assert "− column: s3://datazone-123456789012/attendanceparquet::Salary" in changes
    removed = page.evaluate("window.lineagelab.cy().nodes('.removed').map(n => n.data('label'))")
    assert "Salary" in removed
    p.shot("diff")
    assert p.errors == []


def test_exported_file_works_offline(browser: Any, exported: Path) -> None:
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    p = Page(page, "export")
    p.open(exported.as_uri())
    _walkthrough(p)
    # nothing but the file itself was requested, and the page forbids any other request
    assert [u for u in p.requests if not u.startswith("file:")] == []
    csp = page.evaluate("document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]').content")
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp
    # PNG and SVG of the view
    with page.expect_download() as png:
        page.click("#png")
    assert png.value.suggested_filename == "lineage.png"
    with page.expect_download() as svg:
        page.click("#svg")
    svg_path = svg.value.path()
    assert svg_path is not None and Path(svg_path).read_text().lstrip().startswith(("<?xml", "<svg"))
    page.close()


def test_served_ui_with_token(browser: Any, server: Server) -> None:
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    p = Page(page, "served")
    p.open(f"{server.url}/ui/?token=viewer-token")
    _walkthrough(p)
    api = [u for u in p.requests if "/api/v1/viewer/" in u]
    assert any("/bundle" in u for u in api) and any("/node?" in u for u in api) and any("/events?" in u for u in api)
    page.close()
    denied = browser.new_page()
    p2 = Page(denied, "denied")
    denied.goto(f"{server.url}/ui/")
    denied.wait_for_selector("#status:has-text('401')", timeout=15000)
    assert p2.errors == []
    denied.close()


@pytest.mark.parametrize("where", ["export", "served"])
def test_names_are_text_never_markup(browser: Any, exported: Path, server: Server, where: str) -> None:
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    p = Page(page, f"xss-{where}")
    p.open(exported.as_uri() if where == "export" else f"{server.url}/ui/?token=viewer-token")
    page.fill("#search", "onerror")
    page.wait_for_selector("#search-results li")
    results = page.text_content("#search-results")
    assert EVIL in results
    before = p.renders
    page.locator("#search-results li", has_text="dataset").first.click()
    p.wait_render(before + 1)
    assert page.text_content("#details-title").endswith(EVIL)
    assert EVIL in page.text_content("#schema") and "<b>bold</b>" in page.text_content("#schema")
    label = page.evaluate("window.lineagelab.cy().nodes().map(n => n.data('label')).join('|')")
    assert "<img" in label  # the canvas draws it as text
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("[...document.querySelectorAll('b')].filter(b => b.textContent === 'bold').length") == 0
    p.shot("names")
    assert p.dialogs == [] and p.errors == []
    page.close()


def _fan_in_events(n_inputs: int) -> list[dict[str, Any]]:
    """One job reading many tables (a wide fan-in), and a chain of 60 jobs behind it (a deep graph)."""
    from lineagelab.events import build

    out: list[dict[str, Any]] = []

    def run(i: int, job: str, ins: list[str], outs: list[str]) -> None:
        from openlineage.client import event_v2 as ev

        rid = f"01900000-0000-7000-8000-{i:012d}"
        for kind, t in (("START", 0), ("COMPLETE", 1)):
            out.append(build.to_dict(build.run_event(
                kind, f"2024-07-01T00:{i // 60:02d}:{(i % 60):02d}.{t}00Z", rid, "default", job,
                inputs=[ev.InputDataset(namespace="s3://wide", name=x) for x in ins],
                outputs=[ev.OutputDataset(namespace="s3://wide", name=x) for x in outs])))

    run(0, "fan_in", [f"src/t{k:02d}" for k in range(n_inputs)], ["hub"])
    prev = "hub"
    for i in range(1, 61):
        run(i, f"step_{i:02d}", [prev], [f"chain/d{i:02d}"])
        prev = f"chain/d{i:02d}"
    return out


def test_wide_and_deep_graphs_fold_and_unfold(browser: Any, tmp_path: Path) -> None:
    store = tmp_path / "wide.duckdb"
    with Store.open(store) as s:
        s.ingest(Documents(_fan_in_events(30), "test"))
    html = tmp_path / "wide.html"
    subprocess.run([sys.executable, "-m", "lineagelab", "--store", str(store), "export", "html", str(html), "hub"],
                   check=True, capture_output=True)
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    p = Page(page, "wide")
    p.open(html.as_uri() + "?budget=60")
    count = "window.lineagelab.cy().nodes().filter(n => !n.isChild()).length"
    # opened around the export's focus (hub), nearest first, within the budget; the fan-in folded
    assert "around hub" in page.text_content("#status")
    assert page.evaluate("window.lineagelab.cy().nodes('.more').map(n => n.data('label'))") == ["+18 more"]
    shown = page.evaluate(count)
    assert shown <= 60
    before = p.renders
    p.click_node(p.node_id("+18 more"))
    p.wait_render(before + 1)
    back = "window.lineagelab.cy().nodes('.dataset').filter(n => n.data('label').includes('t2')).length"
    assert page.evaluate(back) == 10  # src/t20 … src/t29 are back
    # depth and direction: upstream of the hub by 2 hops is the fan-in job and its 30 sources
    page.select_option("#direction", "upstream")
    before = p.renders
    page.fill("#depth", "2")
    page.dispatch_event("#depth", "change")
    p.wait_render(before + 1)
    assert page.evaluate(count) == 1 + 1 + 30
    p.shot("upstream")
    before = p.renders
    page.click("#all-btn")
    p.wait_render(before + 1)
    assert page.evaluate(count) == 30 + 1 + 1 + 60 + 60  # every source, the fan-in, the hub, the chain
    # a graph this size draws labels only when zoomed in enough to read them
    labelled = "window.lineagelab.cy().nodes().filter(n => n.data('label') !== '').length"
    for level, expect_labels in ((0.1, False), (1.0, True)):
        page.evaluate(f"() => {{ window.lineagelab.cy().zoom({level}); }}")  # (returning cy would serialise it)
        page.wait_for_timeout(400)
        assert (page.evaluate(labelled) > 0) is expect_labels, level
    assert p.errors == []
    page.close()


def test_ui_command_serves_the_viewer(store_path: Path, tmp_path: Path) -> None:
    import shutil
    import urllib.request

    from tests.server_fixture import free_port

    store = tmp_path / "ui.duckdb"
    shutil.copy(store_path, store)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "lineagelab", "--store", str(store), "ui", "--no-open", "--port",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        assert f"lineagelab viewer on http://127.0.0.1:{port}/ui/" in proc.stderr.readline()
        deadline = time.monotonic() + 60
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        assert "<title>lineagelab</title>" in page  # / redirects to /ui/
        js = urllib.request.urlopen(f"http://127.0.0.1:{port}/ui/viewer.js", timeout=5)
        assert js.headers["Content-Type"].startswith("text/javascript")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_large_store_is_served_in_parts(browser: Any, tmp_path: Path) -> None:
    """Over its run budget the server sends the runs nearest the dataset most jobs touch; the viewer says so, and
    search reaches any dataset of the store, loading the part around it."""
    import json
    import urllib.error
    import urllib.request

    from lineagelab.simulator.synthetic import Shape, events

    path = tmp_path / "lineage.duckdb"
    with Store.open(path) as s:
        s.ingest(Documents(list(events(Shape(jobs=150, runs_per_job=2, columns=3, layers=5))), "synthetic"))
    with running_server(path) as server:
        def get(query: str) -> tuple[int, Any]:
            try:
                with urllib.request.urlopen(f"{server.url}/api/v1/viewer/bundle?{query}", timeout=60) as resp:
                    return resp.status, json.loads(resp.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())

        whole = get("max_runs=0")[1]
        part = get("max_runs=40")[1]
        assert part["partial"]["totalRuns"] == len(whole["runs"]) == 300
        assert 0 < part["partial"]["keptRuns"] == len(part["runs"]) <= 40
        loaded = {d["id"] for d in part["datasets"]}
        far = next(d for d in whole["datasets"] if d["id"] not in loaded)
        status, around = get(f"kind=dataset&id={far['id']}&max_runs=40")
        assert status == 200 and around["focus"] == {"kind": "dataset", "id": far["id"]}
        assert get("kind=table&id=1")[0] == 400 and get("kind=dataset&id=1e3")[0] == 400
        assert get("kind=dataset&id=99")[0] == 404

        p = Page(browser.new_page(), "large-store")
        page = p.page
        p.open(f"{server.url}/ui/?max_runs=40")
        assert page.is_visible("#partial")
        notice = page.text_content("#partial")
        assert f"{part['partial']['keptRuns']} of 300 runs" in notice
        focus = next(d for d in part["datasets"] if d["id"] == part["focus"]["id"])
        assert f"{focus['ns']}/{focus['name']}" in notice
        assert page.evaluate(f"window.lineagelab.cy().getElementById('d{far['id']}').length") == 0
        p.shot("open")
        # search asks the server: the dataset outside the loaded part is found, and picking it loads its part
        page.fill("#search", far["name"])
        full = f"{far['ns']}/{far['name']}"
        page.locator("#search-results li", has_text=full).first.wait_for()
        before = p.renders
        page.locator("#search-results li", has_text=full).first.click()
        p.wait_render(before + 1)
        page.wait_for_selector("#details-title")
        assert page.text_content("#details-title") == full
        assert page.evaluate(f"window.lineagelab.cy().getElementById('d{far['id']}').length") == 1
        assert full in page.text_content("#partial")
        assert any("/api/v1/viewer/search?" in u for u in p.requests)
        assert any(f"kind=dataset&id={far['id']}" in u for u in p.requests)
        p.shot("searched")
        # the address names the part shown: a reload comes back to it
        assert f"kind=dataset&id={far['id']}" in page.url and "max_runs=40" in page.url
        page.reload()
        p.wait_render(1)
        assert full in page.text_content("#partial")
        assert p.dialogs == [] and p.errors == []
        page.close()

    # an export of such a store can keep a part too: it says so, and its search stays within the page
    html = tmp_path / "part.html"
    done = subprocess.run([sys.executable, "-m", "lineagelab", "--store", str(path), "export", "html", str(html),
                           "--max-runs", "40"], check=True, capture_output=True, text=True)
    assert f"{part['partial']['keptRuns']} runs of 300" in done.stdout
    p = Page(browser.new_page(), "large-store-export")
    page = p.page
    p.open(html.as_uri())
    assert page.text_content("#partial") == (f"Showing {part['partial']['keptRuns']} of 300 runs, those nearest "
                                             f"{focus['ns']}/{focus['name']}.")
    page.fill("#search", far["name"])
    page.wait_for_timeout(300)
    assert page.text_content("#search-results") == ""  # not in this part, and nothing asked of a server
    page.fill("#search", focus["name"])
    page.locator("#search-results li", has_text=f"{focus['ns']}/{focus['name']}").first.wait_for()
    assert all(u.startswith("file:") for u in p.requests)
    assert p.dialogs == [] and p.errors == []
    page.close()


# The first view's geometry, from what Cytoscape drew: label sizes on screen, node boxes and their labels.
GEOMETRY = """() => {
    const cy = window.lineagelab.cy();
    const z = cy.zoom();
    const shown = cy.nodes().filter(n => n.visible() && n.data('label'));
    const small = shown.map(n => [n.data('label'), parseFloat(n.style('font-size')) * z]).filter(([, px]) => px < 12);
    const body = n => n.boundingBox({ includeLabels: false, includeOverlays: false });
    const withLabel = n => n.boundingBox({ includeLabels: true, includeOverlays: false });
    const nodes = cy.nodes().filter(n => n.visible());
    const boxes = nodes.map(n => ({ id: n.id(), label: n.data('label'), b: withLabel(n),
        family: new Set([n.id(), ...n.ancestors().map(a => a.id())]) }));
    const overlaps = [];
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
        const [p, q] = [boxes[i], boxes[j]];
        if (p.family.has(q.id) || q.family.has(p.id)) continue;  // a group holds its jobs
        const ix = Math.min(p.b.x2, q.b.x2) - Math.max(p.b.x1, q.b.x1);
        const iy = Math.min(p.b.y2, q.b.y2) - Math.max(p.b.y1, q.b.y1);
        if (ix > 0.5 && iy > 0.5) overlaps.push([p.label, q.label]);
    }
    const overflow = cy.nodes().filter(n => !n.isParent() && n.data('label')).filter(n => {
        const b = body(n);
        const l = n.boundingBox({ includeNodes: false, includeEdges: false, includeLabels: true });
        return l.x1 < b.x1 - 0.5 || l.x2 > b.x2 + 0.5 || l.y1 < b.y1 - 0.5 || l.y2 > b.y2 + 0.5;
    }).map(n => n.data('label'));
    const ext = cy.extent();
    const inView = n => {
        const p = n.position();
        return p.x > ext.x1 && p.x < ext.x2 && p.y > ext.y1 && p.y < ext.y2;
    };
    return { zoom: z, small, overlaps, overflow,
        inView: cy.nodes().filter(n => !n.isParent() && inView(n)).map(n => n.id()),
        iconless: cy.nodes('.dataset, .job').filter(n => !n.classes().some(c => c.startsWith('icon-')))
            .map(n => n.id()),
        groups: cy.nodes('.app').map(n => [n.data('label'), n.children().map(c => c.data('label'))]),
        jobs: cy.nodes('.job').length, nodes: cy.nodes().length };
}"""


@pytest.fixture(scope="module")
def seed_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed samples (Glue, EMR, notebook, Redshift, RDS) exported as the offline viewer."""
    from lineagelab.simulator.seed_samples import sample_events

    root = tmp_path_factory.mktemp("seed")
    with Store.open(root / "lineage.duckdb") as s:
        s.ingest(Documents(list(sample_events()), "seed"))
    out = root / "seed.html"
    subprocess.run([sys.executable, "-m", "lineagelab", "--store", str(root / "lineage.duckdb"), "export", "html",
                    str(out)], check=True, capture_output=True, text=True)
    return out


def test_first_view_is_readable(browser: Any, seed_export: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    p = Page(page, "readable")
    p.open(seed_export.as_uri())
    g = page.evaluate(GEOMETRY)
    p.shot("first-view")
    assert g["small"] == [], f"labels under 12 px at zoom {g['zoom']:.2f}"
    assert g["overlaps"] == []
    assert g["overflow"] == []  # every box holds its label
    assert g["inView"], "nothing of the graph in the first view"
    assert g["iconless"] == []  # every dataset and job carries its service's icon
    # the Spark applications' writes sit in their application's box, named without the application's prefix
    groups = dict(g["groups"])
    assert any(name.startswith("lineageglue") for name in groups), groups
    assert all(children for children in groups.values())
    assert not any(c.startswith("lineageglue.") for cs in groups.values() for c in cs)
    # a Glue table is shown by db.table (its storage path under it)
    labels = page.evaluate("window.lineagelab.cy().nodes('.dataset').map(n => n.data('label'))")
    assert "gluedbname.attendance_with_emp1\nattendanceparquet" in labels
    # zoom-to-fit stays one click away
    page.click("#fit-btn")
    assert page.evaluate("window.lineagelab.cy().zoom()") <= g["zoom"]
    p.shot("fit")
    assert p.errors == []
    page.close()


def test_first_view_opens_on_the_chosen_node(browser: Any, seed_export: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    p = Page(page, "readable-focus")
    p.open(seed_export.as_uri())
    target = p.node_id("employee_absence_summary", "dataset")
    page.close()
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    p = Page(page, "readable-focus")
    p.open(f"{seed_export.as_uri()}?focus={target}")
    g = page.evaluate(GEOMETRY)
    p.shot("first-view")
    assert target in g["inView"]
    assert g["small"] == [] and g["overlaps"] == [] and g["overflow"] == []
    assert p.errors == []
    page.close()


# Every column edge as drawn (endpoints and bends) against every box that is not one of its ends.
CROSSINGS = """() => {
    const cy = window.lineagelab.cy();
    const boxes = cy.nodes().filter(n => n.visible()).map(n => ({ id: n.id(), label: n.data('label'),
        b: n.boundingBox({ includeLabels: false, includeOverlays: false }) }));
    const hits = (p, q, b) => {  // segment p-q against box b shrunk by 1 px (Liang-Barsky)
        const [x1, y1, x2, y2] = [b.x1 + 1, b.y1 + 1, b.x2 - 1, b.y2 - 1];
        let [t0, t1] = [0, 1];
        const dx = q.x - p.x, dy = q.y - p.y;
        for (const [pp, qq] of [[-dx, p.x - x1], [dx, x2 - p.x], [-dy, p.y - y1], [dy, y2 - p.y]]) {
            if (pp === 0) { if (qq < 0) return false; continue; }
            const r = qq / pp;
            if (pp < 0) t0 = Math.max(t0, r); else t1 = Math.min(t1, r);
            if (t0 > t1) return false;
        }
        return true;
    };
    const crossings = [];
    const edges = cy.edges('.coledge');
    edges.forEach(e => {
        const pts = [e.sourceEndpoint(), ...(e.segmentPoints() || []), e.targetEndpoint()];
        const ends = new Set([e.source().id(), e.target().id(), e.source().parent().id(), e.target().parent().id()]);
        for (const box of boxes) {
            if (ends.has(box.id)) continue;
            for (let i = 0; i + 1 < pts.length; i++) {
                if (hits(pts[i], pts[i + 1], box.b)) { crossings.push([e.id(), box.label]); break; }
            }
        }
    });
    return { edges: edges.length, routed: edges.filter(e => e.hasClass('routed')).length, crossings };
}"""


def test_column_edges_run_between_rows_around_other_boxes(browser: Any, seed_export: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    p = Page(page, "columns")
    p.open(seed_export.as_uri())
    before = p.renders
    page.click("#expand-all")
    p.wait_render(before + 1)
    # every dataset card lists its columns
    cards = page.evaluate("window.lineagelab.cy().nodes('.dataset').map(n => [n.data('label'), n.children().length])")
    assert cards and all(n > 0 for _, n in cards), cards
    g = page.evaluate(CROSSINGS)
    page.evaluate("() => { window.lineagelab.cy().fit(undefined, 20); }")
    p.shot("all-columns")
    assert g["edges"] > 0 and g["routed"] == g["edges"]
    assert g["crossings"] == []
    geo = page.evaluate(GEOMETRY)
    assert geo["overlaps"] == []
    assert p.errors == []
    page.close()
