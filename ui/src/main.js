// lineagelab's lineage viewer. Data comes from the bundle inlined in the page (offline export) or from the local
// server (/api/v1/viewer/bundle). Every name and facet value is data: it reaches the page as text nodes or canvas
// labels, never as markup.
import cytoscape from 'cytoscape';
import elk from 'cytoscape-elk';
import svg from 'cytoscape-svg';
import { ICONS } from './icons.js';
import { layered } from './layered.js';
import { CARD, portLayout, sizeCards } from './ports.js';
import './style.css';
import {
  columnPath, defaultFocus, diffStates, fullName, label, neighbourhood, selectRuns, service, serviceIcon, stateOf,
  wrapLabel,
} from './model.js';

cytoscape.use(elk);
cytoscape.use(svg);

const FANOUT = 12; // neighbours shown on one side before the rest fold into "+N more"
const params = new URLSearchParams(location.search);
const ui = {
  bundle: null,
  served: false, // fetched from the server (not an export): search can reach the whole store
  mode: 'latest', // latest | cumulative | asof
  asOf: null,
  depth: Number(params.get('depth') || 6),
  direction: 'both',
  focus: params.get('focus') || null,
  budget: Number(params.get('budget') || 400),
  expanded: new Set(),
  openFanout: new Set(),
  diff: null, // {a: state, b: state, title}
  selected: null,
  highlighted: null,
};
let cy = null;
let state = null;
let renders = 0;

// -- tiny DOM helpers: text only ---------------------------------------------------------------------------------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c != null) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}
const $ = (sel) => document.querySelector(sel);

// -- loading ----------------------------------------------------------------------------------------------------
async function loadBundle(around = null) {
  const inline = document.getElementById('lineagelab-data');
  if (inline && inline.textContent.trim()) {
    const doc = JSON.parse(inline.textContent);
    // node details and raw events ride in a second element, parsed when first asked for (a faster first render)
    const extra = document.getElementById('lineagelab-extra');
    if (extra && extra.textContent.trim()) {
      let parsed = null;
      const get = () => (parsed ??= JSON.parse(extra.textContent));
      Object.defineProperty(doc, 'details', { get: () => get().details, enumerable: true });
      Object.defineProperty(doc, 'events', { get: () => get().events, enumerable: true });
    }
    return doc;
  }
  const q = new URLSearchParams();
  const by = around || (params.get('kind') && params.get('id') ? { kind: params.get('kind'), id: params.get('id') } : null);
  if (by) {
    q.set('kind', by.kind);
    q.set('id', by.id);
  } else if (params.get('node')) q.set('node', params.get('node'));
  if (params.get('max_runs')) q.set('max_runs', params.get('max_runs'));
  const res = await fetch(`/api/v1/viewer/bundle?${q}`, { headers: tokenHeaders() });
  if (!res.ok) throw new Error(`the server answered ${res.status}: ${await res.text()}`);
  ui.served = true;
  return res.json();
}

// A bundle may hold part of the store (the runs nearest a node: a large store is served in parts): say so. Served,
// search then asks the server, and picking a node loads the part around it.
function showPartial() {
  const box = $('#partial');
  const p = ui.bundle.partial;
  box.hidden = !p;
  if (!p) return;
  const f = ui.bundle.focus;
  const all = f ? (f.kind === 'dataset' ? ui.bundle.datasets : ui.bundle.jobs) : [];
  const n = all.find((x) => x.id === f.id);
  const name = n ? fullName({ kind: f.kind, ref: n }) : 'the focus';
  box.textContent = `Showing ${p.keptRuns.toLocaleString('en')} of ${p.totalRuns.toLocaleString('en')} runs, ` +
    `those nearest ${name}.` + (ui.served ? ' Search finds any dataset or job in the store and loads the part ' +
    'around it.' : '');
}

async function loadAround(kind, id) {
  $('#status').textContent = 'loading…';
  try {
    ui.bundle = await loadBundle({ kind, id });
  } catch (err) {
    $('#status').textContent = `could not load lineage: ${err.message}`;
    return false;
  }
  // the address names the part shown: a reload or a bookmark comes back to it
  const url = new URL(location.href);
  url.searchParams.delete('node');
  url.searchParams.set('kind', kind);
  url.searchParams.set('id', id);
  history.replaceState(null, '', url);
  Object.assign(ui, { mode: 'latest', asOf: null, diff: null, highlighted: null });
  $('#mode').value = 'latest';
  ui.expanded.clear();
  ui.openFanout.clear();
  fillControls();
  showPartial();
  return true;
}

function tokenHeaders() {
  const t = params.get('token') || sessionStorage.getItem('lineagelab-token');
  if (params.get('token')) sessionStorage.setItem('lineagelab-token', params.get('token'));
  return t ? { Authorization: `Bearer ${t}` } : {};
}

// -- graph elements ---------------------------------------------------------------------------------------------
function currentState() {
  const runs = selectRuns(ui.bundle, ui.mode, ui.asOf);
  return stateOf(ui.bundle, runs);
}

function stateAt(t) {
  return stateOf(ui.bundle, selectRuns(ui.bundle, 'asof', t));
}

function visible(st) {
  const total = st.nodes.size;
  let focus = ui.focus && st.nodes.has(ui.focus) ? ui.focus : null;
  if (!focus && total > ui.budget) focus = defaultFocus(st);
  if (!focus) return { ids: new Set(st.nodes.keys()), hidden: new Map(), focus: null };
  const nb = neighbourhood(st, focus, ui.depth, ui.direction, ui.budget);
  return { ids: new Set(nb.ids.keys()), hidden: nb.hidden, focus };
}

function elements(st, vis, diff) {
  const els = [];
  const shown = new Set();
  // fold wide fan-out: per node and side, keep the first FANOUT neighbours unless opened
  const sides = new Map();
  for (const e of st.edges.values()) {
    if (!vis.ids.has(e.source) || !vis.ids.has(e.target)) continue;
    for (const [n, other, side] of [[e.source, e.target, 'out'], [e.target, e.source, 'in']]) {
      const k = `${n}|${side}`;
      if (!sides.has(k)) sides.set(k, []);
      sides.get(k).push(other);
    }
  }
  const folded = new Set();
  const more = [];
  for (const [k, others] of sides) {
    const [n, side] = k.split('|');
    if (others.length <= FANOUT + 1 || ui.openFanout.has(k)) continue;
    const sorted = [...others].sort();
    for (const o of sorted.slice(FANOUT)) {
      const oSides = (sides.get(`${o}|in`) || []).length + (sides.get(`${o}|out`) || []).length;
      if (oSides <= 1 && o !== vis.focus) folded.add(o);
    }
    more.push({ k, n, side, count: others.length - FANOUT });
  }
  for (const id of vis.ids) {
    if (folded.has(id)) continue;
    const node = st.nodes.get(id) || diff?.extraNodes.get(id);
    if (!node) continue;
    shown.add(id);
    const run = st.runOfJob.get(id);
    const icon = node.kind === 'dataset' || node.kind === 'job' ? serviceIcon(node) : null;
    const classes = [node.kind, service(node), icon ? `icon-${icon}` : ''];
    if (node.kind === 'job' && run) classes.push(`state-${(run.state || '').toLowerCase()}`);
    if (id === vis.focus) classes.push('focus');
    if (diff?.addedNodes.has(id)) classes.push('added');
    if (diff?.removedNodes.has(id)) classes.push('removed');
    const hidden = vis.hidden.get(id);
    const app = node.kind === 'job' && node.ref.parent ? groupOf(node, st) : null;
    const text = wrapLabel(label(node, Boolean(app)) + (hidden ? `\n(+${hidden} beyond)` : ''));
    els.push({ group: 'nodes', data: { id, label: text, kind: node.kind, ...(app ? { parent: app.id } : {}) },
      classes: classes.join(' ') });
    if (app && !shown.has(app.id)) {
      shown.add(app.id);
      els.push({ group: 'nodes', data: { id: app.id, label: app.label, kind: 'app' }, classes: 'app' });
    }
    if (node.kind === 'dataset' && ui.expanded.has(id)) {
      for (const f of [...(st.columns.get(id) || []), ...(diff?.extraColumns.get(id) || [])]) {
        const cid = `${id}::${f}`;
        if (shown.has(cid)) continue;
        shown.add(cid);
        const cc = ['column'];
        if (diff?.addedColumns.has(cid)) cc.push('added');
        if (diff?.removedColumns.has(cid)) cc.push('removed');
        els.push({ group: 'nodes', data: { id: cid, label: f, parent: id, kind: 'column' }, classes: cc.join(' ') });
      }
    }
  }
  for (const m of more) {
    if (!shown.has(m.n)) continue;
    const id = `more:${m.k}`;
    els.push({ group: 'nodes', data: { id, label: `+${m.count} more`, kind: 'more', fanout: m.k }, classes: 'more' });
    els.push({ group: 'edges', data: m.side === 'out' ? { id: `${id}>`, source: m.n, target: id }
      : { id: `${id}<`, source: id, target: m.n }, classes: 'more-edge' });
  }
  const allEdges = diff ? diff.edges : st.edges;
  for (const e of allEdges.values()) {
    if (!shown.has(e.source) || !shown.has(e.target)) continue;
    const cls = ['flow'];
    if (diff?.addedEdges.has(e.id)) cls.push('added');
    if (diff?.removedEdges.has(e.id)) cls.push('removed');
    els.push({ group: 'edges', data: { id: e.id, source: e.source, target: e.target }, classes: cls.join(' ') });
  }
  const allCols = diff ? diff.colEdges : st.colEdges;
  for (const e of allCols.values()) {
    if (!shown.has(e.source) || !shown.has(e.target)) continue;
    const cls = ['coledge'];
    if ([...e.types].some((t) => t.startsWith('INDIRECT'))) cls.push('indirect');
    if (diff?.addedColEdges.has(e.id)) cls.push('added');
    if (diff?.removedColEdges.has(e.id)) cls.push('removed');
    els.push({ group: 'edges', data: { id: e.id, source: e.source, target: e.target,
      label: [...e.types].map((t) => t.split('/')[1]).join(', '), types: [...e.types].join(', ') },
    classes: cls.join(' ') });
  }
  return els;
}

/** The Spark application a child job's writes group under: its parent job, named by the parent or by the child. */
function groupOf(node, st) {
  const id = `g${node.ref.parent}`;
  const parent = st.nodes.get(`j${node.ref.parent}`)?.ref || ui.bundle.jobs.find((j) => j.id === node.ref.parent);
  const name = parent ? parent.name : (node.ref.name || '').split('.')[0];
  return { id, label: `${name} (application)` };
}

const FONT = 12; // px at zoom 1: the first view never zooms below 1, so no label is drawn under 12 px
const FONT_FAMILY = 'system-ui, "Segoe UI", Helvetica, Arial, sans-serif';
const ICON_SPACE = 22; // left of the label: the service icon
let measureCtx = null;

/** Box sizes from the label's own lines, so long names stay inside their box. */
function sizeNodes(els) {
  measureCtx ??= document.createElement('canvas').getContext('2d');
  measureCtx.font = `${FONT}px ${FONT_FAMILY}`;
  for (const e of els) {
    if (e.group !== 'nodes' || (e.data.kind !== 'dataset' && e.data.kind !== 'job' && e.data.kind !== 'more')) continue;
    const lines = String(e.data.label).split('\n');
    const wide = Math.max(...lines.map((l) => measureCtx.measureText(l).width));
    const icon = e.data.kind === 'more' ? 0 : ICON_SPACE;
    e.data.w = Math.ceil(Math.max(e.data.kind === 'more' ? 70 : 120, wide + 20 + icon));
    e.data.h = Math.max(e.data.kind === 'more' ? 28 : 40, lines.length * 15 + 14);
  }
  sizeCards(els, (text) => measureCtx.measureText(text).width);
}

function diffOverlay(a, b) {
  const d = diffStates(a, b);
  const union = (x, y) => new Map([...x, ...y]);
  const extraColumns = new Map();
  for (const key of d.columns.removed) {
    const [ds, f] = key.split('::');
    if (!extraColumns.has(ds)) extraColumns.set(ds, []);
    extraColumns.get(ds).push(f);
  }
  return {
    raw: d, extraNodes: a.nodes, edges: union(a.edges, b.edges), colEdges: union(a.colEdges, b.colEdges),
    addedNodes: new Set(d.nodes.added), removedNodes: new Set(d.nodes.removed),
    addedEdges: new Set(d.edges.added), removedEdges: new Set(d.edges.removed),
    addedColEdges: new Set(d.colEdges.added), removedColEdges: new Set(d.colEdges.removed),
    addedColumns: new Set(d.columns.added), removedColumns: new Set(d.columns.removed), extraColumns,
  };
}

const STYLE = [
  { selector: 'node', style: { label: 'data(label)', 'text-wrap': 'wrap', 'text-max-width': 1000, 'font-size': FONT,
    'font-family': FONT_FAMILY, 'min-zoomed-font-size': 6,
    'text-valign': 'center', 'text-halign': 'center', width: 190, height: 44, 'background-color': '#e8eef7',
    'border-width': 1, 'border-color': '#7d8da6', color: '#1d2633' } },
  { selector: 'node[w]', style: { width: 'data(w)', height: 'data(h)' } },
  ...Object.entries(ICONS).map(([k, uri]) => ({ selector: `node.icon-${k}`, style: { 'background-image': uri,
    'background-width': 16, 'background-height': 16, 'background-position-x': 7, 'background-position-y': '50%',
    'background-clip': 'none', 'background-image-containment': 'over', 'text-margin-x': ICON_SPACE / 2 } })),
  { selector: 'node.app', style: { shape: 'round-rectangle', 'background-color': '#fffaf0', 'border-style': 'dashed',
    'border-color': '#c99a2e', 'font-weight': 'bold', color: '#7a5a12' } },
  { selector: 'node.dataset:parent', style: { padding: CARD.pad, 'background-image': 'none', 'text-margin-x': 0,
    'font-weight': 'bold' } },
  { selector: 'node.dataset', style: { shape: 'round-rectangle' } },
  { selector: 'node.job', style: { shape: 'cut-rectangle', 'background-color': '#fff4dc', 'border-color': '#c99a2e' } },
  { selector: 'node.s3', style: { 'background-color': '#e4f4e4', 'border-color': '#4c9a4c' } },
  { selector: 'node.redshift', style: { 'background-color': '#e6e8fb', 'border-color': '#5560c9' } },
  { selector: 'node.mysql', style: { 'background-color': '#fde9e4', 'border-color': '#cc6a4e' } },
  { selector: 'node.job.state-fail', style: { 'border-color': '#d22', 'border-width': 3 } },
  { selector: 'node.job.state-complete', style: { 'border-width': 2 } },
  { selector: 'node.job.state-running, node.job.state-start', style: { 'border-style': 'dashed' } },
  { selector: ':parent', style: { 'text-valign': 'top', 'text-halign': 'center', 'padding': 8,
    'background-opacity': 0.55 } },
  { selector: 'node.column', style: { shape: 'rectangle', width: 150, height: CARD.row - 3, 'font-size': FONT,
    'background-color': '#ffffff', 'border-color': '#9aa7b8' } },
  { selector: 'node.column[w]', style: { width: 'data(w)', 'text-halign': 'center' } },
  { selector: 'node.more', style: { shape: 'round-rectangle', 'background-color': '#f2f2f2',
    'border-style': 'dashed' } },
  { selector: 'node.focus', style: { 'border-width': 4, 'border-color': '#1b63d1' } },
  { selector: 'node:selected', style: { 'overlay-color': '#1b63d1', 'overlay-opacity': 0.12 } },
  { selector: 'edge', style: { width: 1.6, 'curve-style': 'bezier', 'target-arrow-shape': 'triangle',
    'line-color': '#8b98ab', 'target-arrow-color': '#8b98ab', 'arrow-scale': 0.9 } },
  { selector: 'edge.large', style: { 'curve-style': 'haystack', 'haystack-radius': 0, width: 1 } },
  { selector: 'node.large', style: { shape: 'rectangle', 'border-width': 0, 'background-image': 'none',
    'text-margin-x': 0 } },
  { selector: 'edge.coledge', style: { width: 1.2, 'line-color': '#5aa0d8', 'target-arrow-color': '#5aa0d8',
    'font-size': FONT, 'text-rotation': 'none', 'text-background-color': '#fff',
    'text-background-opacity': 0.9, 'text-background-padding': 2 } },
  // a transformation's name only on the traced path: on every column edge they overlap
  { selector: 'edge.coledge.hl', style: { label: 'data(label)' } },
  { selector: 'edge.coledge.indirect', style: { 'line-style': 'dashed', 'line-color': '#b58ad6',
    'target-arrow-color': '#b58ad6' } },
  { selector: '.added', style: { 'border-color': '#1a9e3a', 'line-color': '#1a9e3a', 'target-arrow-color': '#1a9e3a',
    'border-width': 3, width: 3 } },
  { selector: '.removed', style: { 'border-color': '#d6262f', 'line-color': '#d6262f', 'target-arrow-color': '#d6262f',
    'border-style': 'dashed', 'line-style': 'dashed', 'border-width': 3, width: 3, opacity: 0.85 } },
  { selector: '.faded', style: { opacity: 0.15 } },
  { selector: '.hl', style: { 'border-color': '#ff7a00', 'line-color': '#ff7a00', 'target-arrow-color': '#ff7a00',
    'border-width': 3, width: 3, opacity: 1 } },
];

const ELK_LIMIT = 300; // elements; beyond, our layered layout (ELK takes ~5 s and dagre ~3.5 s on 2,000 nodes)

/** Positions for a large graph, computed from the element list before it is added (one draw, no layout pass). */
function placeLarge(els) {
  const parentOf = new Map();
  const kids = new Map();
  const top = [];
  for (const e of els) {
    if (e.group !== 'nodes') continue;
    if (e.data.parent) {
      parentOf.set(e.data.id, e.data.parent);
      if (!kids.has(e.data.parent)) kids.set(e.data.parent, []);
      kids.get(e.data.parent).push(e);
    } else {
      top.push(e.data.id);
    }
  }
  const topOf = (id) => parentOf.get(id) || id;
  const edges = els.filter((e) => e.group === 'edges').map((e) => [topOf(e.data.source), topOf(e.data.target)]);
  const heightOf = (id) => (kids.has(id) ? kids.get(id).length * 22 + 30 : 44);
  const at = layered(top, edges, heightOf);
  for (const e of els) {
    if (e.group !== 'nodes') continue;
    if (!e.data.parent) {
      e.position = at.get(e.data.id);
    } else {
      const base = at.get(e.data.parent);
      const i = kids.get(e.data.parent).indexOf(e);
      e.position = { x: base.x, y: base.y - heightOf(e.data.parent) / 2 + 26 + i * 22 };
    }
  }
  // fit from our own positions: cytoscape's fit would measure every label for the bounding box first
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [id, q] of at) {
    const hh = heightOf(id) / 2;
    x0 = Math.min(x0, q.x - 95); x1 = Math.max(x1, q.x + 95); y0 = Math.min(y0, q.y - hh); y1 = Math.max(y1, q.y + hh);
  }
  const pad = 30;
  const zoom = Math.min((cy.width() - 2 * pad) / Math.max(1, x1 - x0), (cy.height() - 2 * pad) / Math.max(1, y1 - y0), 1.5);
  return { zoom, pan: { x: (cy.width() - zoom * (x0 + x1)) / 2, y: (cy.height() - zoom * (y0 + y1)) / 2 } };
}

function layoutOptions(n) {
  return { name: 'elk', fit: false, padding: 30, animate: false, nodeDimensionsIncludeLabels: false,
    // an application's box keeps room above its jobs for its own title
    nodeLayoutOptions: (node) => (node.data('kind') === 'app'
      ? { 'elk.padding': '[top=34,left=16,bottom=16,right=16]' } : {}),
    elk: { algorithm: 'layered', 'elk.direction': 'RIGHT', 'elk.layered.spacing.nodeNodeBetweenLayers': 70,
      'elk.spacing.nodeNode': 18, 'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.layered.nodePlacement.strategy': n > 600 ? 'SIMPLE' : 'NETWORK_SIMPLEX',
      'elk.layered.crossingMinimization.strategy': 'LAYER_SWEEP',
      'elk.layered.thoroughness': n > 600 ? 1 : 7 } };
}

function render() {
  const t0 = performance.now();
  state = currentState();
  const diff = ui.diff ? diffOverlay(ui.diff.a, ui.diff.b) : null;
  const base = diff ? ui.diff.b : state;
  const vis = ui.diff ? { ids: new Set([...ui.diff.a.nodes.keys(), ...ui.diff.b.nodes.keys()]), hidden: new Map(),
    focus: null } : visible(base);
  let els = elements(base, vis, diff);
  const large = els.length > ELK_LIMIT;
  // level of detail: a large graph opens zoomed out, where labels are unreadable and measuring them costs a second
  if (large) {
    // no application groups either: the fast layout places flat rows
    els = els.filter((e) => e.data.kind !== 'app');
    for (const e of els) if (e.data.kind === 'job') delete e.data.parent;
    for (const e of els) {
      e.classes = `${e.classes || ''} large`;
      if (e.data.label) [e.data.text, e.data.label] = [e.data.label, ''];
    }
  }
  if (!large) sizeNodes(els);
  const view = large ? placeLarge(els) : null;
  cy.batch(() => {
    cy.elements().remove();
    cy.add(els);
    if (view) cy.viewport(view);
  });
  const finish = () => {
    if (large) labelsForZoom();
    else readableView(vis.focus);
    const ms = performance.now() - t0;
    requestAnimationFrame(() => requestAnimationFrame(() => { // the frame after the first draw
      if (!document.body.dataset.firstPaintAt) document.body.dataset.firstPaintAt = performance.now().toFixed(1);
    }));
    document.body.dataset.rendered = String(Number(document.body.dataset.rendered || 0) + 1);
    document.body.dataset.renderMs = ms.toFixed(1);
    if (!document.body.dataset.firstRenderAt) document.body.dataset.firstRenderAt = performance.now().toFixed(1);
    const nodes = cy.nodes().filter((n) => !n.isChild()).length;
    $('#status').textContent = `${nodes} nodes, ${cy.edges().length} edges` +
      (vis.focus ? ` around ${label(state.nodes.get(vis.focus) || { kind: 'dataset', ref: { name: vis.focus } })
        .replace('\n', ' ')} (depth ${ui.depth}, ${ui.direction})` : '') +
      ` · ${ui.diff ? ui.diff.title : modeTitle()} · ${ms.toFixed(0)} ms`;
    if (ui.highlighted) highlightColumn(ui.highlighted, ui.showPathOnce);
    ui.showPathOnce = false;
  };
  if (large) {
    finish();
  } else if (els.some((e) => e.data.kind === 'column')) {
    const gen = ++renders; // a newer render may start while ELK works: only the latest finishes
    portLayout(cy).then(() => gen === renders && finish(), (err) => { $('#status').textContent = `layout failed: ${err.message}`; });
  } else {
    const layout = cy.layout(layoutOptions(els.length));
    layout.one('layoutstop', finish);
    layout.run();
  }
  renderDiffList(diff);
}

const MIN_ZOOM_READABLE = 1; // FONT px labels at zoom 1
const MAX_ZOOM_FIRST = 1.6;

/** The first view: all of a graph that fits readable, else the focus (or busiest node) and its neighbours. */
function readableView(focusId) {
  const all = cy.elements();
  if (!all.length) return;
  const pad = 30;
  const bb = all.boundingBox();
  const fit = Math.min((cy.width() - 2 * pad) / Math.max(1, bb.w), (cy.height() - 2 * pad) / Math.max(1, bb.h));
  if (fit >= MIN_ZOOM_READABLE) {
    cy.zoom(Math.min(fit, MAX_ZOOM_FIRST));
    cy.center(all);
    return;
  }
  let f = focusId ? cy.getElementById(focusId) : null;
  if (!f || !f.length) {
    const pick = ui.selected ? cy.getElementById(ui.selected) : null;
    f = pick && pick.length ? pick
      : cy.nodes().filter((n) => !n.isParent()).max((n) => n.connectedEdges().length).ele;
  }
  const near = f.closedNeighborhood().nodes();
  const around = near.union(near.parents());
  const nb = around.boundingBox();
  const z = Math.min((cy.width() - 2 * pad) / Math.max(1, nb.w), (cy.height() - 2 * pad) / Math.max(1, nb.h));
  cy.zoom(Math.max(MIN_ZOOM_READABLE, Math.min(z, MAX_ZOOM_FIRST)));
  // a neighbourhood wider than the screen: the focus in the middle, its nearest neighbours either side
  cy.center(z >= MIN_ZOOM_READABLE ? around : f);
}

const LABEL_ZOOM = 0.45; // below this zoom a 11 px label is under 5 px: not drawn in large graphs

function labelsForZoom() {
  // large graphs keep labels in data(text) and show them in data(label) only when zoomed in enough to read
  const show = cy.zoom() >= LABEL_ZOOM;
  const eles = cy.elements().filter((e) => e.data('text') !== undefined);
  if (!eles.length || (eles[0].data('label') !== '') === show) return;
  cy.batch(() => eles.forEach((e) => e.data('label', show ? e.data('text') : '')));
}

function modeTitle() {
  if (ui.mode === 'asof') return `as of ${ui.asOf}`;
  return ui.mode === 'cumulative' ? 'cumulative (every run)' : 'latest runs';
}

// -- interaction ------------------------------------------------------------------------------------------------
function highlightColumn(cid, showPanel = true) {
  ui.highlighted = cid;
  const st = ui.diff ? ui.diff.b : state;
  const path = columnPath(st, cid);
  cy.elements().removeClass('hl').addClass('faded');
  for (const n of path.nodes) {
    const el = cy.getElementById(n);
    el.removeClass('faded').addClass('hl');
    el.parent().removeClass('faded');
  }
  for (const e of path.edges) cy.getElementById(e).removeClass('faded').addClass('hl');
  const rows = [...path.edges].map((id) => st.colEdges.get(id)).filter(Boolean);
  if (showPanel) showPath(cid, rows);
}

/** Click on a column: open every dataset on its path, then highlight the path. */
function traceColumn(cid) {
  const st = ui.diff ? ui.diff.b : state;
  const path = columnPath(st, cid);
  const closed = [...path.nodes].map((n) => n.split('::')[0]).filter((d) => !ui.expanded.has(d));
  ui.highlighted = cid;
  if (closed.length) {
    for (const d of closed) ui.expanded.add(d);
    ui.showPathOnce = true;
    render(); // highlights when laid out
  } else {
    highlightColumn(cid);
  }
}

function clearHighlight() {
  ui.highlighted = null;
  cy.elements().removeClass('hl faded');
}

function nodeById(id) {
  return state.nodes.get(id) || (ui.diff && (ui.diff.a.nodes.get(id) || ui.diff.b.nodes.get(id)));
}

function colName(id) {
  const [ds, f] = id.split('::');
  const n = nodeById(ds);
  return `${n ? fullName(n) : ds}::${f}`;
}

function showPath(cid, rows) {
  const panel = $('#details');
  panel.replaceChildren(
    h('h2', {}, 'Column path'),
    h('p', { class: 'mono', id: 'path-column' }, colName(cid)),
    h('table', { id: 'path-table' },
      h('tr', {}, h('th', {}, 'from'), h('th', {}, 'to'), h('th', {}, 'transformation')),
      rows.map((e) => h('tr', {}, h('td', { class: 'mono' }, colName(e.source)), h('td', { class: 'mono' }, colName(e.target)),
        h('td', {}, [...e.types].join(', '))))),
    h('button', { onclick: () => { clearHighlight(); panel.replaceChildren(); } }, 'Clear'),
  );
}

async function details(id) {
  const node = nodeById(id);
  if (!node) return;
  ui.selected = id;
  const key = `${node.kind}:${node.ref.id}`;
  let d = ui.bundle.details ? ui.bundle.details[key] : null;
  if (!d && !ui.bundle.details) {
    const res = await fetch(`/api/v1/viewer/node?node=${encodeURIComponent(fullName(node))}`, { headers: tokenHeaders() });
    d = res.ok ? await res.json() : null;
  }
  const panel = $('#details');
  const parts = [h('h2', { id: 'details-title' }, fullName(node)),
    h('div', { class: 'actions' },
      h('button', { id: 'focus-btn', onclick: () => { ui.focus = id; render(); } }, 'Focus'),
      node.kind === 'dataset' ? h('button', { id: 'columns-btn', onclick: () => toggleColumns(id) },
        ui.expanded.has(id) ? 'Hide columns' : 'Show columns') : null)];
  if (d) {
    parts.push(h('p', {}, h('b', {}, 'DataZone sourceIdentifier: '), h('span', { class: 'mono', id: 'source-id' },
      d.datazone_source_identifier || '—')));
    if (d.symlinks?.length) {
      parts.push(h('h3', {}, 'Symlinks'), h('ul', { id: 'symlinks' }, d.symlinks.map((s) =>
        h('li', { class: 'mono' }, `${s.namespace || s[0]}/${s.name || s[1]}${s.type ? ` (${s.type})` : ''}`))));
    }
    if (d.schema?.length) {
      parts.push(h('h3', {}, 'Schema'), h('table', { id: 'schema' }, d.schema.map((f) =>
        h('tr', {}, h('td', { class: 'mono' }, f.name), h('td', {}, f.type || '')))));
    }
    if (d.versions?.length) {
      parts.push(h('h3', {}, 'Versions'), h('table', { id: 'versions' }, d.versions.slice(0, 30).map((v) =>
        h('tr', {}, h('td', {}, v.created_at || v.first_seen || ''), h('td', {}, v.reason || v.io_hash || ''),
          h('td', {}, v.row_count != null ? `${v.row_count} rows` : (v.run_count != null ? `${v.run_count} runs` : ''))))));
    }
    if (d.runs?.length) {
      parts.push(h('h3', {}, 'Runs'), h('table', { id: 'runs' },
        h('tr', {}, h('th', {}, 'run'), h('th', {}, 'state'), h('th', {}, 'started'), h('th', {}, 'duration')),
        d.runs.slice(0, 50).map((r) => h('tr', { class: `state-${(r.state || '').toLowerCase()}` },
          h('td', { class: 'mono' }, h('a', { href: '#', onclick: (ev) => { ev.preventDefault(); showEvents(r.run_id); } },
            (r.run_id || '').slice(0, 13))),
          h('td', {}, r.state || ''), h('td', {}, r.started_at || ''),
          h('td', {}, r.duration_ms != null ? `${(r.duration_ms / 1000).toFixed(1)} s` : '')))));
    }
    if (d.facets && Object.keys(d.facets).length) {
      parts.push(h('h3', {}, 'Facets'), h('pre', { id: 'facets' }, JSON.stringify(d.facets, null, 2)));
    }
  } else if (node.kind === 'dataset') {
    parts.push(h('h3', {}, 'Schema'), h('table', { id: 'schema' }, (node.ref.fields || []).map(([n, t]) =>
      h('tr', {}, h('td', { class: 'mono' }, n), h('td', {}, t)))));
  }
  panel.replaceChildren(...parts);
}

async function showEvents(runId) {
  let evs = ui.bundle.events ? ui.bundle.events[runId] : null;
  if (!evs && !ui.bundle.events) {
    const res = await fetch(`/api/v1/viewer/events?run=${encodeURIComponent(runId)}`, { headers: tokenHeaders() });
    evs = res.ok ? await res.json() : null;
  }
  const panel = $('#details');
  panel.append(h('h3', {}, `Raw events of ${runId}`),
    h('pre', { id: 'raw-events' }, evs ? JSON.stringify(evs, null, 2) : 'not in this export'));
}

function toggleColumns(id) {
  if (ui.expanded.has(id)) ui.expanded.delete(id);
  else ui.expanded.add(id);
  render();
  details(id);
}

function renderDiffList(diff) {
  const box = $('#diff-list');
  if (!diff) {
    box.replaceChildren();
    box.hidden = true;
    return;
  }
  const name = (id) => {
    const n = nodeById(id);
    return n ? fullName(n) : id;
  };
  const items = [];
  for (const id of diff.raw.nodes.added) items.push(['added', 'node', name(id)]);
  for (const id of diff.raw.nodes.removed) items.push(['removed', 'node', name(id)]);
  for (const id of diff.raw.edges.added) items.push(['added', 'edge', id.split('>').map(name).join(' → ')]);
  for (const id of diff.raw.edges.removed) items.push(['removed', 'edge', id.split('>').map(name).join(' → ')]);
  for (const id of diff.raw.columns.added) items.push(['added', 'column', colName(id)]);
  for (const id of diff.raw.columns.removed) items.push(['removed', 'column', colName(id)]);
  for (const id of diff.raw.colEdges.added) items.push(['added', 'column edge', id.split('>').map(colName).join(' → ')]);
  for (const id of diff.raw.colEdges.removed) items.push(['removed', 'column edge', id.split('>').map(colName).join(' → ')]);
  box.hidden = false;
  box.replaceChildren(h('h3', {}, `${ui.diff.title}: ${items.length} change(s)`,
    h('button', { id: 'diff-close', onclick: () => { ui.diff = null; render(); } }, 'Close diff')),
  h('ul', {}, items.map(([k, what, text]) => h('li', { class: k }, `${k === 'added' ? '+' : '−'} ${what}: `,
    h('span', { class: 'mono' }, text)))));
}

function times() {
  return [...new Set(ui.bundle.runs.map((r) => r.start).filter(Boolean))].sort();
}

// What depends on the loaded bundle: the time slider's steps and the diff pickers.
function fillControls() {
  ui.times = times();
  const ts = ui.times;
  const slider = $('#time');
  slider.max = String(Math.max(ts.length - 1, 0));
  slider.value = slider.max;
  $('#time-label').textContent = ts.length ? 'now' : '—';
  const fill = (sel, opts) => sel.replaceChildren(...opts.map(([v, t]) => h('option', { value: v }, t)));
  fill($('#diff-from'), ts.map((t) => [t, t]));
  fill($('#diff-to'), ts.map((t) => [t, t]));
  if (ts.length) $('#diff-to').value = ts[ts.length - 1];
  const runs = [...ui.bundle.runs].sort((x, y) => (x.start < y.start ? -1 : 1));
  const jobs = new Map(ui.bundle.jobs.map((j) => [j.id, j.name]));
  const jobName = (r) => jobs.get(r.job) ?? r.job;
  fill($('#diff-run1'), runs.map((r) => [r.key, `${r.start} ${jobName(r)}`]));
  fill($('#diff-run2'), runs.map((r) => [r.key, `${r.start} ${jobName(r)}`]));
}

function setupControls() {
  fillControls();
  const slider = $('#time');
  slider.addEventListener('input', () => {
    const ts = ui.times;
    const t = ts[Number(slider.value)];
    ui.mode = Number(slider.value) === ts.length - 1 ? 'latest' : 'asof';
    ui.asOf = t;
    $('#mode').value = ui.mode;
    $('#time-label').textContent = ui.mode === 'latest' ? 'now' : t;
    ui.diff = null;
    render();
  });
  $('#mode').addEventListener('change', (ev) => {
    ui.mode = ev.target.value;
    if (ui.mode === 'asof' && !ui.asOf) ui.asOf = ui.times[Math.max(0, Number(slider.value))];
    ui.diff = null;
    render();
  });
  $('#depth').value = String(ui.depth);
  $('#depth').addEventListener('change', (ev) => { ui.depth = Math.max(1, Number(ev.target.value) || 1); render(); });
  $('#direction').addEventListener('change', (ev) => { ui.direction = ev.target.value; render(); });
  $('#all-btn').addEventListener('click', () => { ui.focus = null; ui.budget = Infinity; render(); });
  $('#fit-btn').addEventListener('click', () => cy.fit(undefined, 30));
  $('#expand-all').addEventListener('click', () => {
    const all = [...state.nodes.values()].filter((n) => n.kind === 'dataset').map((n) => n.id);
    const open = all.every((id) => ui.expanded.has(id));
    ui.expanded = open ? new Set() : new Set(all);
    render();
  });
  // search: the loaded graph, or the whole store when only part of it is loaded
  const input = $('#search');
  const results = $('#search-results');
  let asked = 0; // search answers are shown only for the latest query
  const pick = async (kind, id) => {
    results.replaceChildren();
    input.value = '';
    const nid = (kind === 'dataset' ? 'd' : 'j') + id;
    const f = ui.bundle.focus;
    const loadedAround = f && f.kind === kind && f.id === id;
    asked += 1; // answers still on their way are stale now
    if (ui.served && ui.bundle.partial && !loadedAround && !(await loadAround(kind, id))) return;
    ui.focus = nid;
    ui.highlighted = null;
    render();
    details(nid);
  };
  const item = (kind, text, id) => h('li', { onclick: () => pick(kind, id) },
    h('span', { class: `badge ${kind}` }, kind), ' ', text);
  input.addEventListener('input', async () => {
    const q = input.value.trim();
    const mine = ++asked;
    if (!q) { results.replaceChildren(); return; }
    if (ui.served && ui.bundle.partial) {
      const res = await fetch(`/api/v1/viewer/search?${new URLSearchParams({ q, limit: '20' })}`,
        { headers: tokenHeaders() });
      if (mine !== asked || !res.ok) return; // a newer query is under way, or the server refused
      results.replaceChildren(...(await res.json()).map((x) => item(x.kind, x.key, x.id)));
      return;
    }
    const st = currentState();
    const hits = [...st.nodes.values()].filter((n) => fullName(n).toLowerCase().includes(q.toLowerCase()))
      .slice(0, 20);
    results.replaceChildren(...hits.map((n) => item(n.kind, fullName(n), n.ref.id)));
  });
  // diff
  $('#diff-times').addEventListener('click', () => {
    const a = $('#diff-from').value;
    const b = $('#diff-to').value;
    ui.diff = { a: stateAt(a), b: stateAt(b), title: `diff ${a} → ${b}` };
    const d = diffStates(ui.diff.a, ui.diff.b);
    for (const k of [...d.columns.added, ...d.columns.removed]) ui.expanded.add(k.split('::')[0]);
    render();
  });
  $('#diff-runs').addEventListener('click', () => {
    const r1 = ui.bundle.runs.find((r) => r.key === $('#diff-run1').value);
    const r2 = ui.bundle.runs.find((r) => r.key === $('#diff-run2').value);
    ui.diff = { a: stateOf(ui.bundle, [r1]), b: stateOf(ui.bundle, [r2]), title: `diff of runs ${r1.key.slice(0, 8)} → ${r2.key.slice(0, 8)}` };
    for (const id of [...ui.diff.a.nodes.keys(), ...ui.diff.b.nodes.keys()]) if (id.startsWith('d')) ui.expanded.add(id);
    render();
  });
  // export the view
  $('#png').addEventListener('click', () => download(cy.png({ full: true, scale: 2, bg: '#ffffff' }), 'lineage.png'));
  $('#svg').addEventListener('click', () => {
    const blob = new Blob([cy.svg({ full: true, bg: '#ffffff' })], { type: 'image/svg+xml' });
    download(URL.createObjectURL(blob), 'lineage.svg');
  });
}

function download(href, name) {
  const a = h('a', { href, download: name });
  document.body.append(a);
  a.click();
  a.remove();
}

async function main() {
  try {
    ui.bundle = await loadBundle();
  } catch (err) {
    $('#status').textContent = `could not load lineage: ${err.message}`;
    return;
  }
  if (ui.bundle.focus && !ui.focus) ui.focus = (ui.bundle.focus.kind === 'dataset' ? 'd' : 'j') + ui.bundle.focus.id;
  cy = cytoscape({ container: $('#cy'), style: STYLE, minZoom: 0.05, maxZoom: 3,
    textureOnViewport: true, hideEdgesOnViewport: true });
  cy.on('tap', 'node', (ev) => {
    const n = ev.target;
    const kind = n.data('kind');
    if (kind === 'column') traceColumn(n.id());
    else if (kind === 'more') { ui.openFanout.add(n.data('fanout')); render(); }
    else { clearHighlight(); details(n.id()); }
  });
  cy.on('dbltap', 'node.dataset', (ev) => toggleColumns(ev.target.id()));
  let zoomTimer = null;
  cy.on('zoom', () => {
    if (cy.elements().length <= ELK_LIMIT) return;
    clearTimeout(zoomTimer);
    zoomTimer = setTimeout(labelsForZoom, 120);
  });
  cy.on('tap', (ev) => { if (ev.target === cy) clearHighlight(); });
  setupControls();
  showPartial();
  window.lineagelab = { cy: () => cy, ui, render, details, traceColumn };
  render();
}

main();
