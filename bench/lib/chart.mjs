/**
 * A small SVG bar chart of the ratios (Concord vs each peer, > 1 means Concord is better), one group of
 * bars per scenario/case, on a log scale with a line at 1.0. Bars grow from the 1.0 line: right when
 * Concord is better, left when it is worse. No chart library: a few rectangles and text. A failed
 * scenario shows as one red line with its error (its last figures are not shown as if current).
 */
import { formatRatio, peerNames } from './table.mjs';

const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#e15759', '#76b7b2', '#edc948', '#9c755f'];
const KNOWN = { yjs: COLORS[0], automerge: COLORS[1], tinybase: COLORS[2] };

const TARGET = 'its target';

/** Concord's figure over an absolute target's bound, > 1 when better than the bound; undefined without one. */
function absoluteTarget(r) {
  const targets = r.target === undefined ? [] : Array.isArray(r.target) ? r.target : [r.target];
  const t = targets.find((x) => x.of === undefined);
  if (!t || r.concord === null) return undefined;
  const bound = 'atMost' in t ? t.atMost : t.atLeast;
  if (bound === 0 || r.concord === 0) return null;
  return r.higherIsBetter ? r.concord / bound : bound / r.concord;
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** @param entries scenario results as written to latest.json ({ id, title, env, rows: [{ case, metric, ratios }] }) */
export function renderChart(entries) {
  const peers = peerNames(entries.flatMap((e) => e.rows ?? []));
  // the three peer libraries keep their colours; references (records floor, published figures) take the rest in turn
  const spare = COLORS.filter((c) => !Object.values(KNOWN).includes(c));
  const color = new Map();
  let next = 0;
  for (const p of peers) color.set(p, KNOWN[p] ?? spare[next++ % spare.length]);
  color.set(TARGET, '#999999');
  const groups = [];
  for (const e of entries) {
    if (e.failed) {
      groups.push({ label: `${e.id} FAILED`, sub: e.error ?? 'failed', bars: [], failed: true });
      continue;
    }
    for (const r of e.rows) {
      const bars = peers.filter((p) => p in (r.peers ?? {})).map((p) => ({ peer: p, value: r.ratios?.[p] ?? null }));
      if (!bars.length) {
        // No peer: a row with an absolute target is charted against it; other rows are left to the table.
        const t = absoluteTarget(r);
        if (!t) continue;
        bars.push({ peer: TARGET, value: t });
      }
      groups.push({ label: `${e.id} ${r.case}`, sub: `${r.metric} (${r.higherIsBetter ? 'higher' : 'lower'} is better)`, bars });
    }
  }
  const values = groups.flatMap((g) => g.bars.map((b) => b.value)).filter((v) => v !== null && v > 0);
  const lo = Math.floor(Math.log10(Math.min(0.5, ...values)));
  const hi = Math.ceil(Math.log10(Math.max(2, ...values)));

  const W = 980;
  const left = 370;
  const right = 70;
  const top = 74;
  const barH = 13;
  const barGap = 3;
  const groupGap = 14;
  const plotW = W - left - right;
  const x = (v) => left + ((Math.log10(v) - lo) / (hi - lo)) * plotW;
  const groupHeight = (g) => Math.max(2, g.bars.length) * (barH + barGap) + groupGap;
  const plotH = groups.reduce((s, g) => s + groupHeight(g), 0);
  const H = top + plotH + 56;

  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="16" y="24" font-size="16" font-weight="600">Concord vs peers — ratio per scenario and case (log scale)</text>`);
  const env = entries[0]?.env;
  const dates = [...new Set(entries.map((e) => e.env?.date?.slice(0, 10)).filter(Boolean))].join(', ');
  out.push(`<text x="16" y="42" fill="#555">&gt; 1× (right of the line): Concord is better; &lt; 1× (left): the peer is better. Each scenario measured side by side in one process.</text>`);
  if (env) out.push(`<text x="16" y="58" fill="#777">${esc(`${dates} · node ${env.node} · ${env.cpu} (${env.cores} cores)`)}</text>`);

  // grid: powers of ten, and 2 and 5 between them when the range is small
  for (let d = lo; d <= hi; d++) {
    const steps = hi - lo <= 3 ? [1, 2, 5] : [1];
    for (const m of steps) {
      const v = m * 10 ** d;
      if (Math.log10(v) > hi + 1e-9) continue;
      const gx = x(v).toFixed(1);
      out.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${top + plotH}" stroke="${m === 1 ? '#ddd' : '#f0f0f0'}"/>`);
      out.push(`<text x="${gx}" y="${top + plotH + 16}" text-anchor="middle" fill="#666">${Number(v.toPrecision(2))}×</text>`);
    }
  }

  let y = top;
  for (const g of groups) {
    const h = groupHeight(g) - groupGap;
    out.push(`<text x="${left - 10}" y="${y + h / 2 - 2}" text-anchor="end" font-weight="600"${g.failed ? ' fill="#c00"' : ''}>${esc(clip(g.label, 48))}</text>`);
    if (g.failed) out.push(`<text x="${left + 6}" y="${y + h / 2 + 4}" fill="#c00">${esc(clip(g.sub, 95))}</text>`);
    if (!g.failed) out.push(`<text x="${left - 10}" y="${y + h / 2 + 12}" text-anchor="end" fill="#777" font-size="11">${esc(clip(g.sub, 52))}</text>`);
    g.bars.forEach((b, i) => {
      const by = y + i * (barH + barGap);
      if (b.value === null || !(b.value > 0)) {
        out.push(`<text x="${x(1) + 6}" y="${by + barH - 3}" fill="#999" font-size="11">${esc(b.peer)}: n/a</text>`);
        return;
      }
      const x0 = x(1);
      const x1 = x(Math.min(Math.max(b.value, 10 ** lo), 10 ** hi));
      const bx = Math.min(x0, x1);
      const bw = Math.max(1, Math.abs(x1 - x0));
      out.push(`<rect x="${bx.toFixed(1)}" y="${by}" width="${bw.toFixed(1)}" height="${barH}" fill="${color.get(b.peer)}"><title>${esc(`${g.label} — vs ${b.peer}: ${formatRatio(b.value)}`)}</title></rect>`);
      const tx = x1 >= x0 ? x1 + 4 : x1 - 4;
      out.push(`<text x="${tx.toFixed(1)}" y="${by + barH - 2}" text-anchor="${x1 >= x0 ? 'start' : 'end'}" font-size="11">${esc(formatRatio(b.value))}</text>`);
    });
    y += groupHeight(g);
  }
  out.push(`<line x1="${x(1).toFixed(1)}" y1="${top - 10}" x2="${x(1).toFixed(1)}" y2="${top + plotH}" stroke="#222" stroke-width="2"/>`);
  out.push(`<text x="${x(1).toFixed(1)}" y="${top - 14}" text-anchor="middle" font-weight="600">1.0 (parity)</text>`);

  let lx = 16;
  const ly = H - 16;
  out.push(`<text x="${lx}" y="${ly}" fill="#555">vs</text>`);
  lx += 24;
  const legend = groups.some((g) => g.bars.some((b) => b.peer === TARGET)) ? [...peers, TARGET] : peers;
  for (const p of legend) {
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${color.get(p)}"/><text x="${lx + 16}" y="${ly}">${esc(p)}</text>`);
    lx += 24 + p.length * 7 + 14;
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function clip(s, n) {
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}
