/**
 * The value types a relay can apply deltas of (docs/deltas.md): a relay stores a writer's delta as it came and serves
 * it to clients holding its base, but it must be able to check it, and to make the value whole for a client that
 * lacks the base. Yjs documents: when `yjs` is installed, importing concord/yjs registers the 'yjs' type. `yjs` is an
 * optional peer dependency and stays out of the core bundle: this import is Node-only (the relay) and may fail —
 * then the relay answers a document delta with NEED and writers send it whole values from then on (correct, only
 * costlier).
 */
export async function loadValueTypes(): Promise<string[]> {
  try {
    await import('../yjs/index.js');
    return ['yjs'];
  } catch {
    return [];
  }
}
