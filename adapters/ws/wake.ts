/**
 * Browser signals that a reconnect is worth trying at once (Transport.onWake): the window's `online` event
 * and the document becoming visible again (a tab brought back to the front, a laptop woken up, a phone
 * unlocked). Where there is no window or document (Node, workers without them), nothing is signalled.
 */

interface EventTargetLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

function target(value: unknown): EventTargetLike | undefined {
  const t = value as Partial<EventTargetLike> | undefined;
  return typeof t?.addEventListener === 'function' && typeof t.removeEventListener === 'function' ? (t as EventTargetLike) : undefined;
}

export function browserWakeSignals(listener: () => void): () => void {
  const win = target(globalThis);
  const doc = target((globalThis as { document?: unknown }).document);
  const online = () => listener();
  const visible = () => {
    if ((globalThis as { document?: { visibilityState?: string } }).document?.visibilityState === 'visible') listener();
  };
  // Node 20's globalThis is no EventTarget; a browser window and worker scopes are.
  win?.addEventListener('online', online);
  doc?.addEventListener('visibilitychange', visible);
  return () => {
    win?.removeEventListener('online', online);
    doc?.removeEventListener('visibilitychange', visible);
  };
}
