/**
 * The row schema of a scenario's result, checked where a row is made (`rowMaker(id)`) and again by the
 * runner over a scenario's whole result (`checkResult`), with the same rules.
 *
 * A row:
 *   case            non-empty string, unique within its scenario
 *   metric          non-empty string: the unit ('writes/s', 'ms', 'bytes', …)
 *   higherIsBetter  true or false: orients the ratios (> 1 means Concord is better) and the targets
 *   concord         a finite number; null only with a note saying why there is no figure
 *   peers           { name: finite number }: only what was measured (or published) for this row; a peer
 *                   that does not apply is left out, never null, so "not run" cannot pass for "not applicable"
 *   note            optional string
 *   target          optional { atMost: x } or { atLeast: x }, with `of: '<peer>'` when the bound is x times
 *                   that peer's figure in the same row; or an array of them (met when all are met)
 *
 * Invariant: a row that breaks a rule throws BenchRowError naming the scenario, the case and the field, at
 * the line that made the row, so a scenario cannot hand the runner a row it would reject.
 */

export class BenchRowError extends Error {
  name = 'BenchRowError';
}

const isFiniteNumber = (v) => typeof v === 'number' && Number.isFinite(v);
const shown = (v) => (v === undefined ? 'undefined' : typeof v === 'number' ? String(v) : JSON.stringify(v) ?? String(v));
const KNOWN = new Set(['case', 'metric', 'higherIsBetter', 'concord', 'peers', 'note', 'target']);

/** Throws BenchRowError when `row` breaks the schema; returns the row otherwise. */
export function checkRow(scenario, row) {
  const where = `${scenario} row ${typeof row?.case === 'string' && row.case ? JSON.stringify(row.case) : '(no case)'}`;
  const fail = (field, want, got) => {
    throw new BenchRowError(`${where}: ${field} must be ${want} (got ${shown(got)})`);
  };
  if (row === null || typeof row !== 'object' || Array.isArray(row)) throw new BenchRowError(`${scenario}: a row must be an object (got ${shown(row)})`);
  for (const k of Object.keys(row)) if (!KNOWN.has(k)) fail(k, `one of the row fields (${[...KNOWN].join(', ')})`, k);
  if (typeof row.case !== 'string' || !row.case.trim()) fail('case', 'a non-empty string', row.case);
  if (typeof row.metric !== 'string' || !row.metric.trim()) fail('metric', 'a non-empty string', row.metric);
  if (typeof row.higherIsBetter !== 'boolean') fail('higherIsBetter', 'true or false', row.higherIsBetter);
  if (row.concord === null) {
    if (typeof row.note !== 'string' || !row.note.trim()) fail('concord', 'a finite number (null only with a note saying why)', row.concord);
  } else if (!isFiniteNumber(row.concord)) fail('concord', 'a finite number', row.concord);
  if (row.peers === null || typeof row.peers !== 'object' || Array.isArray(row.peers)) fail('peers', 'an object of peer name → number ({} when none)', row.peers);
  for (const [peer, v] of Object.entries(row.peers)) {
    if (!isFiniteNumber(v)) fail(`peers[${JSON.stringify(peer)}]`, 'a finite number (leave out a peer that was not measured)', v);
  }
  if (row.note !== undefined && typeof row.note !== 'string') fail('note', 'a string when given', row.note);
  if (row.target !== undefined) {
    const targets = Array.isArray(row.target) ? row.target : [row.target];
    if (!targets.length) fail('target', 'a target or a non-empty array of targets', row.target);
    for (const t of targets) {
      if (t === null || typeof t !== 'object') fail('target', '{ atMost | atLeast: number, of?: peer }', t);
      const bounds = ['atMost', 'atLeast'].filter((k) => k in t);
      if (bounds.length !== 1 || !isFiniteNumber(t[bounds[0]])) fail('target', 'exactly one of atMost / atLeast, a finite number', t);
      for (const k of Object.keys(t)) if (!['atMost', 'atLeast', 'of'].includes(k)) fail('target', 'made of atMost / atLeast and of', t);
      if (t.of !== undefined && !(t.of in row.peers)) fail('target.of', `a peer of this row (${Object.keys(row.peers).join(', ') || 'none'})`, t.of);
    }
  }
  return row;
}

/** `const row = rowMaker('S4')` — `row({ … })` returns the row, or throws naming S4, the case and the field. */
export function rowMaker(scenario) {
  return (fields) => checkRow(scenario, fields);
}

/** Checks a scenario's whole result: `{ rows: [row, …], …extra }` with at least one row and unique cases. */
export function checkResult(scenario, result) {
  if (!result || typeof result !== 'object' || !Array.isArray(result.rows)) throw new BenchRowError(`${scenario}: run() must resolve { rows: [...] } (got ${shown(result)})`);
  if (!result.rows.length) throw new BenchRowError(`${scenario}: run() returned no rows`);
  const seen = new Set();
  for (const r of result.rows) {
    checkRow(scenario, r);
    if (seen.has(r.case)) throw new BenchRowError(`${scenario} row ${JSON.stringify(r.case)}: case must be unique within the scenario (it appears twice)`);
    seen.add(r.case);
  }
  return result;
}

/** Whether the row meets its target(s): true, false, or null when a figure it needs is missing or no target. */
export function targetMet(row) {
  if (row.target === undefined) return null;
  let met = true;
  for (const t of Array.isArray(row.target) ? row.target : [row.target]) {
    const base = t.of === undefined ? 1 : row.peers?.[t.of];
    if (row.concord === null || row.concord === undefined || base === undefined || base === null) return null;
    met &&= 'atMost' in t ? row.concord <= t.atMost * base : row.concord >= t.atLeast * base;
  }
  return met;
}

/** A target as text: '≤ 1.5× yjs', '≥ 50 000', '≤ 64 and ≤ 2× records floor'. */
export function formatTarget(target, formatNumber = String) {
  if (target === undefined) return '';
  return (Array.isArray(target) ? target : [target])
    .map((t) => {
      const bound = 'atMost' in t ? t.atMost : t.atLeast;
      const op = 'atMost' in t ? '≤' : '≥';
      return t.of === undefined ? `${op} ${formatNumber(bound)}` : `${op} ${formatNumber(bound)}× ${t.of}`;
    })
    .join(' and ');
}
