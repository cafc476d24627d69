/**
 * Ratios and the stdout table. A ratio is oriented so that > 1 means Concord is better:
 * concord / peer for "higher is better" metrics (writes/s), peer / concord for "lower is better" (bytes, ms).
 * A failed scenario prints as one FAILED line with its error, never as an empty table.
 */
import { formatTarget, targetMet } from './row.mjs';

/** Concord's figure against one peer's, > 1 when Concord is better; null when either is missing or zero. */
export function ratio(row, peer) {
  const c = row.concord;
  if (c === null || c === undefined || peer === null || peer === undefined) return null;
  if (c === 0 || peer === 0) return null;
  return row.higherIsBetter ? c / peer : peer / c;
}

/** A figure with 3 significant digits, thousands grouped with a thin space: 145 000, 92.3, 0.571. */
export function formatNumber(x) {
  if (x === null || x === undefined) return '—';
  if (!Number.isFinite(x)) return String(x);
  const abs = Math.abs(x);
  if (abs >= 1000) return Math.round(x).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
  if (abs === 0) return '0';
  return Number(x.toPrecision(3)).toString();
}

export function formatRatio(r) {
  if (r === null || r === undefined) return '—';
  return (r >= 100 ? Math.round(r).toString() : r >= 10 ? r.toFixed(1) : r.toFixed(2)) + '×';
}

/** The peers named in any row of the scenario, in first-seen order. */
export function peerNames(rows) {
  const names = [];
  for (const r of rows) for (const p of Object.keys(r.peers ?? {})) if (!names.includes(p)) names.push(p);
  return names;
}

export function formatTable(entry) {
  if (entry.failed) return `${entry.id} — ${entry.title}${entry.quick ? ' (quick)' : ''}\nFAILED after ${entry.seconds} s: ${entry.error}`;
  const peers = peerNames(entry.rows);
  const withTargets = entry.rows.some((r) => r.target !== undefined);
  const header = ['case', 'metric', 'concord', ...peers, ...peers.map((p) => `concord vs ${p}`), ...(withTargets ? ['target', 'met'] : [])];
  const lines = entry.rows.map((r) => {
    const met = r.met !== undefined ? r.met : targetMet(r);
    return [
      r.case,
      r.metric + (r.higherIsBetter ? ' ↑' : ' ↓'),
      formatNumber(r.concord),
      ...peers.map((p) => formatNumber(r.peers?.[p] ?? null)),
      ...peers.map((p) => formatRatio(r.ratios?.[p] ?? ratio(r, r.peers?.[p] ?? null))),
      ...(withTargets ? [formatTarget(r.target, formatNumber), met === null ? (r.target === undefined ? '' : '?') : met ? 'yes' : 'NO'] : []),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const numeric = (i) => i >= 2 && i < 2 + 1 + 2 * peers.length;
  const fmt = (cells) => cells.map((c, i) => (numeric(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [`${entry.id} — ${entry.title}${entry.quick ? ' (quick)' : ''}`, fmt(header), widths.map((w) => '─'.repeat(w)).join('  '), ...lines.map(fmt)];
  out.push('(↑ higher is better, ↓ lower is better; "concord vs X" > 1× means Concord is better; "met ?": a figure the target needs is missing)');
  const notes = entry.rows.filter((r) => r.note).map((r) => `  ${r.case}: ${r.note}`);
  if (notes.length) out.push('notes:', ...notes);
  return out.join('\n');
}
