/** A minimal typed event emitter; `on` returns the unsubscribe function. Listener errors never reach the emitter. */
export class Emitter<Events extends Record<string, unknown>> {
  private readonly listeners = new Map<keyof Events, Set<(payload: never) => void>>();

  on<K extends keyof Events>(type: K, listener: (payload: Events[K]) => void, options?: { signal?: AbortSignal }): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener as (payload: never) => void);
    const off = () => void set.delete(listener as (payload: never) => void);
    options?.signal?.addEventListener('abort', off, { once: true });
    return off;
  }

  has(type: keyof Events): boolean {
    return (this.listeners.get(type)?.size ?? 0) > 0;
  }

  emit<K extends keyof Events>(type: K, payload: Events[K]): void {
    const set = this.listeners.get(type);
    if (!set) return;
    // Iterating the live set: a listener removed meanwhile is skipped, one added meanwhile also runs.
    for (const listener of set) {
      try {
        (listener as (p: Events[K]) => void)(payload);
      } catch (e) {
        if (type !== 'error') this.emit('error' as K, e as Events[K]);
      }
    }
  }
}
