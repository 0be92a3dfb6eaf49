// The layout with columns shown: ELK's layered algorithm on dataset cards with a port per column row, so a column
// edge leaves its source row on the card's right and enters its target row on the left, and ELK routes it
// (orthogonally, through the gaps between layers) around every other box. Cytoscape then draws ELK's routes as
// segment edges. Used for graphs up to a few hundred elements; larger ones keep the fast layered layout.
import ELK from 'elkjs/lib/elk.bundled.js';

export const CARD = { row: 22, pad: 4 };
const APP_PADDING = '[top=34,left=16,bottom=16,right=16]';
let elk = null;

const ROOT_OPTIONS = {
  'elk.algorithm': 'layered', 'elk.direction': 'RIGHT', 'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
  'elk.edgeRouting': 'ORTHOGONAL', 'elk.layered.spacing.nodeNodeBetweenLayers': 70, 'elk.spacing.nodeNode': 24,
  'elk.spacing.edgeNode': 14, 'elk.spacing.edgeEdge': 6, 'elk.layered.spacing.edgeNodeBetweenLayers': 14,
  'elk.layered.spacing.edgeEdgeBetweenLayers': 6, 'elk.layered.thoroughness': 7,
  'elk.layered.crossingMinimization.strategy': 'LAYER_SWEEP',
};

/** Card sizes: every column row as wide as the widest of the card's title and column names. */
export function sizeCards(els, measure) {
  const kids = new Map();
  for (const e of els) {
    if (e.group === 'nodes' && e.data.kind === 'column') {
      if (!kids.has(e.data.parent)) kids.set(e.data.parent, []);
      kids.get(e.data.parent).push(e);
    }
  }
  for (const e of els) {
    const cols = e.group === 'nodes' ? kids.get(e.data.id) : null;
    if (!cols) continue;
    const title = Math.max(...String(e.data.label).split('\n').map(measure)) + 22;
    const w = Math.ceil(Math.max(150, title, ...cols.map((c) => measure(c.data.label) + 16)));
    for (const c of cols) c.data.w = w;
    const top = String(e.data.label).split('\n').length * 16 + 10; // the title sits above the card's box
    e.data.card = { w: w + 2 * CARD.pad, h: top + 2 * CARD.pad + cols.length * CARD.row, top,
      rows: cols.map((c) => c.data.id) };
  }
}

/** Lays the graph out with ELK (ports per column row) and applies positions and edge routes to `cy`. */
export async function portLayout(cy) {
  elk ??= new ELK();
  const graph = { id: '__root', layoutOptions: ROOT_OPTIONS, children: [], edges: [] };
  const byId = new Map([['__root', graph]]);
  const rowOf = new Map(); // column id -> [card id, row index]
  const nodes = cy.nodes().filter((n) => n.data('kind') !== 'column');
  // parents first, so a child finds its group
  const ordered = nodes.filter((n) => !n.isChild()).union(nodes.filter((n) => n.isChild()));
  for (const n of ordered) {
    const card = n.data('card');
    const node = { id: n.id(), layoutOptions: {} };
    if (card) {
      Object.assign(node, { width: card.w, height: card.h });
      node.layoutOptions['elk.portConstraints'] = 'FIXED_POS';
      // table edges meet the card at its box's top corners, column edges at their rows
      node.ports = [{ id: `${n.id()}|in`, x: 0, y: card.top, width: 0, height: 0,
        layoutOptions: { 'elk.port.side': 'WEST' } },
      { id: `${n.id()}|out`, x: card.w, y: card.top, width: 0, height: 0, layoutOptions: { 'elk.port.side': 'EAST' } }];
      card.rows.forEach((cid, i) => {
        rowOf.set(cid, [n.id(), i]);
        const y = card.top + CARD.pad + i * CARD.row + CARD.row / 2;
        node.ports.push({ id: `${cid}|in`, x: 0, y, width: 0, height: 0, layoutOptions: { 'elk.port.side': 'WEST' } },
          { id: `${cid}|out`, x: card.w, y, width: 0, height: 0, layoutOptions: { 'elk.port.side': 'EAST' } });
      });
    } else if (n.data('kind') === 'app') {
      node.layoutOptions['elk.padding'] = APP_PADDING;
      node.children = [];
    } else {
      Object.assign(node, { width: n.outerWidth(), height: n.outerHeight() });
    }
    byId.set(n.id(), node);
    const parent = n.isChild() ? byId.get(n.parent().id()) : graph;
    (parent.children ??= []).push(node);
  }
  const end = (id, side) => (rowOf.has(id) || cy.getElementById(id).data('card') ? `${id}|${side}` : id);
  for (const e of cy.edges()) {
    graph.edges.push({ id: e.id(), sources: [end(e.source().id(), 'out')], targets: [end(e.target().id(), 'in')] });
  }
  const out = await elk.layout(graph);
  cy.scratch('elk', out); // the layout as ELK returned it: for tests and debugging
  // absolute boxes: ELK gives a child's position relative to its parent
  const box = new Map();
  const walk = (n, ox, oy) => {
    for (const c of n.children || []) {
      const b = { x: ox + c.x, y: oy + c.y, w: c.width, h: c.height };
      box.set(c.id, b);
      walk(c, b.x, b.y);
    }
  };
  walk(out, 0, 0);
  cy.batch(() => {
    for (const n of nodes) {
      const b = box.get(n.id());
      if (!b || n.isParent() && !n.data('card')) continue;
      if (n.data('card')) {
        n.children().forEach((c) => {
          const [, i] = rowOf.get(c.id());
          c.position({ x: b.x + b.w / 2, y: b.y + n.data('card').top + CARD.pad + i * CARD.row + CARD.row / 2 });
        });
      } else {
        n.position({ x: b.x + b.w / 2, y: b.y + b.h / 2 });
      }
    }
  });
  // after the batch: a card's position is its rows' centre, known once they are placed
  cy.batch(() => {
    for (const r of out.edges || []) route(cy.getElementById(r.id), r.sections?.[0]);
  });
  return box;
}

/** Draws an ELK route on a Cytoscape edge: endpoints relative to the end nodes, bends as segment points. */
function route(edge, section) {
  if (!edge.length || !section) return;
  const s = centre(edge.source());
  const t = centre(edge.target());
  const pts = section.bendPoints?.length ? section.bendPoints
    : [{ x: (section.startPoint.x + section.endPoint.x) / 2, y: (section.startPoint.y + section.endPoint.y) / 2 }];
  const dx = t.x - s.x;
  const dy = t.y - s.y;
  const len2 = dx * dx + dy * dy || 1;
  const len = Math.sqrt(len2);
  const weights = [];
  const distances = [];
  for (const p of pts) {
    const w = ((p.x - s.x) * dx + (p.y - s.y) * dy) / len2;
    const mx = s.x + w * dx;
    const my = s.y + w * dy;
    weights.push(w.toFixed(4));
    distances.push((((p.x - mx) * -dy + (p.y - my) * dx) / len).toFixed(2));
  }
  edge.style({
    'curve-style': 'segments', 'edge-distances': 'node-position', 'segment-weights': weights.join(' '),
    'segment-distances': distances.join(' '),
    'source-endpoint': `${(section.startPoint.x - s.x).toFixed(1)}px ${(section.startPoint.y - s.y).toFixed(1)}px`,
    'target-endpoint': `${(section.endPoint.x - t.x).toFixed(1)}px ${(section.endPoint.y - t.y).toFixed(1)}px`,
  });
  edge.addClass('routed');
}

/** A node's centre; a card's is its rows' (Cytoscape updates a compound's own position only when it next draws). */
function centre(n) {
  if (!n.isParent()) return n.position();
  const b = n.children().boundingBox({ includeLabels: false, includeOverlays: false });
  return { x: (b.x1 + b.x2) / 2, y: (b.y1 + b.y2) / 2 };
}
