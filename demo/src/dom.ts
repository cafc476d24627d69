/**
 * A tiny element builder: `h('button', { class: 'x', onclick }, 'text')`. Strings become text nodes (never HTML).
 * Values come from peers, whose writes the types cannot vouch for: any child that is not a Node, and any attribute,
 * is shown through `shown` (below), which never throws.
 */
type Attrs = Record<string, unknown>;
type Child = unknown;

/**
 * Any value as text, never throwing: a string as it is, an object as JSON (else its type tag). `String(v)` throws for
 * an object without a callable toString or valueOf (`{"toString": 1}` from a peer), and a throw while rendering would
 * leave a whole panel stale.
 */
export function shown(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null) {
    try {
      const json = JSON.stringify(v);
      if (typeof json === 'string') return json;
    } catch {
      // a cycle or a BigInt inside: its type tag below
    }
    return Object.prototype.toString.call(v);
  }
  return typeof v === 'symbol' ? v.toString() : String(v);
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value as EventListener);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, shown(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false || child === '') continue;
    el.append(child instanceof Node ? child : shown(child));
  }
  return el;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`demo: #${id} missing from index.html`);
  return el as T;
}

/** HH:MM:SS.mmm of a millisecond timestamp (HLC ms or Date.now()). */
export function clock(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
