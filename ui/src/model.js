// The lineage model in the browser: pure functions over the bundle (runs with their inputs, outputs and column
// edges), so the served UI and the offline export compute the same graphs, as-of views and diffs.

/** Runs that define the graph: latest run per job, every run (cumulative), or the latest run started by `asOf`. */
export function selectRuns(bundle, mode, asOf) {
  const runs = bundle.runs.filter((r) => r.start && (mode !== 'asof' || r.start <= asOf));
  if (mode === 'cumulative') return runs;
  const latest = new Map();
  for (const r of runs) {
    const cur = latest.get(r.job);
    if (!cur || r.start > cur.start || (r.start === cur.start && r.key > cur.key)) latest.set(r.job, r);
  }
  return [...latest.values()];
}

/** A graph state: nodes, table edges, column edges, columns per dataset, from a set of runs. */
export function stateOf(bundle, runs) {
  const ds = new Map(bundle.datasets.map((d) => [d.id, d]));
  const jobs = new Map(bundle.jobs.map((j) => [j.id, j]));
  const nodes = new Map();
  const edges = new Map();
  const colEdges = new Map();
  const columns = new Map();
  const runOfJob = new Map();
  const addCol = (d, f) => {
    if (!columns.has(d)) columns.set(d, new Set());
    columns.get(d).add(f);
  };
  for (const r of runs) {
    const job = jobs.get(r.job);
    if (!job) continue;
    const jid = 'j' + r.job;
    nodes.set(jid, { id: jid, kind: 'job', ref: job });
    const prev = runOfJob.get(jid);
    if (!prev || r.start > prev.start) runOfJob.set(jid, r);
    for (const i of r.inputs) {
      if (!ds.has(i)) continue;
      nodes.set('d' + i, { id: 'd' + i, kind: 'dataset', ref: ds.get(i) });
      edges.set(`d${i}>${jid}`, { id: `d${i}>${jid}`, source: 'd' + i, target: jid });
    }
    for (const o of r.outputs) {
      if (!ds.has(o)) continue;
      nodes.set('d' + o, { id: 'd' + o, kind: 'dataset', ref: ds.get(o) });
      edges.set(`${jid}>d${o}`, { id: `${jid}>d${o}`, source: jid, target: 'd' + o });
    }
    for (const [od, of, id, inf, type, subtype] of r.cols) {
      if (!ds.has(od) || !ds.has(id) || of == null || inf == null) continue;
      const key = `d${id}::${inf}>d${od}::${of}`;
      const e = colEdges.get(key) || { id: key, source: `d${id}::${inf}`, target: `d${od}::${of}`, from: 'd' + id,
        to: 'd' + od, types: new Set(), job: jid };
      e.types.add(`${type}/${subtype}`);
      colEdges.set(key, e);
      addCol('d' + od, of);
      addCol('d' + id, inf);
    }
  }
  for (const d of bundle.datasets) {
    const nid = 'd' + d.id;
    if (nodes.has(nid)) for (const [f] of d.fields || []) addCol(nid, f);
  }
  return { nodes, edges, colEdges, columns, runOfJob };
}

/** Added and removed nodes, edges, column edges and columns between two states. */
export function diffStates(a, b) {
  const delta = (x, y) => ({ added: [...y.keys()].filter((k) => !x.has(k)), removed: [...x.keys()].filter((k) => !y.has(k)) });
  const cols = (s) => {
    const m = new Map();
    for (const [d, fs] of s.columns) for (const f of fs) m.set(`${d}::${f}`, true);
    return m;
  };
  return { nodes: delta(a.nodes, b.nodes), edges: delta(a.edges, b.edges), colEdges: delta(a.colEdges, b.colEdges),
    columns: delta(cols(a), cols(b)) };
}

/** Node ids within `depth` hops of `focus` in the chosen direction(s), nearest first, at most `budget`. */
export function neighbourhood(state, focus, depth, direction, budget) {
  const out = new Map();
  const inn = new Map();
  for (const e of state.edges.values()) {
    if (!out.has(e.source)) out.set(e.source, []);
    if (!inn.has(e.target)) inn.set(e.target, []);
    out.get(e.source).push(e.target);
    inn.get(e.target).push(e.source);
  }
  const seen = new Map([[focus, 0]]);
  const queue = [focus];
  const hidden = new Map(); // node -> count of neighbours left out by the budget
  while (queue.length) {
    const n = queue.shift();
    const d = seen.get(n);
    if (d >= depth) continue;
    const next = [];
    if (direction !== 'upstream') next.push(...(out.get(n) || []));
    if (direction !== 'downstream') next.push(...(inn.get(n) || []));
    for (const m of next) {
      if (seen.has(m)) continue;
      if (seen.size >= budget) {
        hidden.set(n, (hidden.get(n) || 0) + 1);
        continue;
      }
      seen.set(m, d + 1);
      queue.push(m);
    }
  }
  return { ids: seen, hidden };
}

/** The focus a large graph opens on: the most connected dataset. */
export function defaultFocus(state) {
  const degree = new Map();
  for (const e of state.edges.values()) {
    degree.set(e.source, (degree.get(e.source) || 0) + 1);
    degree.set(e.target, (degree.get(e.target) || 0) + 1);
  }
  let best = null;
  for (const [n, d] of degree) if (n.startsWith('d') && (!best || d > degree.get(best))) best = n;
  return best;
}

/** Every column upstream and downstream of `col` (`dID::field`), with the edges on the way. */
export function columnPath(state, col) {
  const up = new Map();
  const down = new Map();
  for (const e of state.colEdges.values()) {
    if (!down.has(e.source)) down.set(e.source, []);
    if (!up.has(e.target)) up.set(e.target, []);
    down.get(e.source).push(e);
    up.get(e.target).push(e);
  }
  const nodes = new Set([col]);
  const edges = new Set();
  for (const [adj, end] of [[up, 'source'], [down, 'target']]) {
    const stack = [col];
    const seen = new Set([col]);
    while (stack.length) {
      const n = stack.pop();
      for (const e of adj.get(n) || []) {
        edges.add(e.id);
        const m = e[end];
        nodes.add(m);
        if (!seen.has(m)) {
          seen.add(m);
          stack.push(m);
        }
      }
    }
  }
  return { nodes, edges };
}

/** The service a dataset or job belongs to, for its colour. */
export function service(node) {
  const ns = node.ref.ns || '';
  if (node.kind === 'job') {
    if (ns.startsWith('redshift://')) return 'redshift';
    return 'spark';
  }
  if (ns.startsWith('s3://')) return 's3';
  if (ns.startsWith('redshift://')) return 'redshift';
  if (ns.startsWith('mysql://')) return 'mysql';
  if (ns.startsWith('postgres://')) return 'postgres';
  if (ns.startsWith('arn:aws:glue')) return 'glue';
  return 'other';
}

/** The name shown on a node: a Glue table as `db.table` over its storage path; a job without its application. */
export function label(node, grouped = false) {
  const name = node.ref.name || '';
  if (node.kind === 'job') {
    const parts = name.split('.');
    if (grouped && parts.length > 1) return parts.slice(1).join('.');
    return parts.length > 2 ? `${parts[0]}\n${parts.slice(2).join('.')}` : name;
  }
  const seg = name.split('/').filter(Boolean);
  const path = seg.length ? seg.slice(-2).join('/') : name;
  return node.ref.label && node.ref.label !== path ? `${node.ref.label}\n${path}` : path;
}

/** The icon beside a node's colour: the AWS service a user knows it by. */
export function serviceIcon(node) {
  if (node.kind === 'dataset' && (node.ref.label || (node.ref.ns || '').startsWith('arn:aws:glue'))) return 'glue';
  const s = service(node);
  return s === 'mysql' || s === 'postgres' ? 'rds' : s;
}

/** Lines of at most `max` characters, broken after `_ . / -` (long job and path names have no spaces). */
export function wrapLabel(text, max = 34) {
  const out = [];
  for (const line of text.split('\n')) {
    if (line.length <= max) { out.push(line); continue; }
    let cur = '';
    for (const tok of line.split(/(?<=[_./ -])/)) {
      if (cur && cur.length + tok.length > max) { out.push(cur); cur = ''; }
      cur += tok;
      while (cur.length > max + 8) { out.push(cur.slice(0, max)); cur = cur.slice(max); }
    }
    if (cur) out.push(cur);
  }
  return out.join('\n');
}

export function fullName(node) {
  return node.kind === 'job' ? `${node.ref.ns}.${node.ref.name}` : `${node.ref.ns}/${node.ref.name}`;
}
