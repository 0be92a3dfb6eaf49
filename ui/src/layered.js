// A fast left-to-right layered layout for large graphs (thousands of nodes), where ELK and dagre take seconds:
// longest-path layers, a few barycentre sweeps to reduce crossings, then rows packed per layer. Pure: ids and
// edges in, positions out. Small graphs keep ELK's nicer layout.

/**
 * @param {string[]} ids top-level node ids
 * @param {[string, string][]} edges source -> target between top-level nodes
 * @param {(id: string) => number} height node height
 * @returns {Map<string, {x: number, y: number}>} centre positions
 */
export function layered(ids, edges, height, { width = 190, gapX = 80, gapY = 14, sweeps = 4 } = {}) {
  const succ = new Map(ids.map((id) => [id, []]));
  const pred = new Map(ids.map((id) => [id, []]));
  for (const [s, t] of edges) {
    if (s === t || !succ.has(s) || !succ.has(t)) continue;
    succ.get(s).push(t);
    pred.get(t).push(s);
  }
  // layers: longest path from the sources (Kahn's order; nodes left on cycles go after their placed preds)
  const indeg = new Map(ids.map((id) => [id, pred.get(id).length]));
  const layer = new Map();
  const queue = ids.filter((id) => indeg.get(id) === 0);
  for (const id of queue) layer.set(id, 0);
  for (let i = 0; i < queue.length; i++) {
    const n = queue[i];
    for (const m of succ.get(n)) {
      layer.set(m, Math.max(layer.get(m) || 0, layer.get(n) + 1));
      indeg.set(m, indeg.get(m) - 1);
      if (indeg.get(m) === 0) queue.push(m);
    }
  }
  for (const id of ids) if (!layer.has(id)) layer.set(id, Math.max(0, ...pred.get(id).map((p) => layer.get(p) ?? -1)) + 1);
  const layers = [];
  for (const id of ids) {
    const l = layer.get(id);
    while (layers.length <= l) layers.push([]);
    layers[l].push(id);
  }
  // ordering: barycentre sweeps, down then up
  const pos = new Map();
  const index = () => layers.forEach((ls) => ls.forEach((id, i) => pos.set(id, i)));
  index();
  const bary = (id, nb) => {
    const ns = nb.get(id);
    if (!ns.length) return pos.get(id);
    let s = 0;
    for (const n of ns) s += pos.get(n);
    return s / ns.length;
  };
  for (let k = 0; k < sweeps; k++) {
    const down = k % 2 === 0;
    const order = down ? layers.slice(1) : layers.slice(0, -1).reverse();
    for (const ls of order) {
      const key = new Map(ls.map((id) => [id, bary(id, down ? pred : succ)]));
      ls.sort((a, b) => key.get(a) - key.get(b));
      ls.forEach((id, i) => pos.set(id, i));
    }
  }
  // coordinates: a layer is a column of rows, wrapped into several columns when it is much taller than wide
  // graphs would be on screen (a fan-out of hundreds would otherwise be a thin needle), each centred
  const out = new Map();
  const maxRows = Math.max(12, Math.ceil(Math.sqrt(ids.length) * 1.5));
  let x = 0;
  for (const ls of layers) {
    const cols = [];
    for (let i = 0; i < ls.length; i += maxRows) cols.push(ls.slice(i, i + maxRows));
    for (const col of cols) {
      const total = col.reduce((s, id) => s + height(id) + gapY, 0);
      let y = -total / 2;
      for (const id of col) {
        const hgt = height(id);
        out.set(id, { x, y: y + hgt / 2 });
        y += hgt + gapY;
      }
      x += width + gapX / 3;
    }
    x += gapX - gapX / 3;
  }
  return out;
}
