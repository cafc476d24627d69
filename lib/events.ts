type Listener = (payload: never) => void;

/** A minimal typed event emitter; `on` returns the unsubscribe function. Listener errors never reach the emitter. */
export class Emitter<Events extends Record<string, unknown>> {
  /**
   * Per type, the listeners in the order added, each once. Arrays rather than Sets: an emit (several per put) then walks
   * them by index and allocates no iterator. A listener removed while an emit runs leaves a hole (null) until the
   * outermost emit is over.
   */
  private readonly listeners = new Map<keyof Events, Array<Listener | null>>();
  private emitting = 0;
  private holes = false;

  on<K extends keyof Events>(type: K, listener: (payload: Events[K]) => void, options?: { signal?: AbortSignal }): () => void {
    let list = this.listeners.get(type);
    if (!list) this.listeners.set(type, (list = []));
    const l = listener as Listener;
    if (!list.includes(l)) list.push(l);
    const off = () => this.off(type, l);
    options?.signal?.addEventListener('abort', off, { once: true });
    return off;
  }

  private off(type: keyof Events, l: Listener): void {
    const list = this.listeners.get(type);
    const i = list ? list.indexOf(l) : -1;
    if (i < 0) return;
    if (this.emitting > 0) {
      list![i] = null;
      this.holes = true;
    } else list!.splice(i, 1);
  }

  has(type: keyof Events): boolean {
    const list = this.listeners.get(type);
    return list !== undefined && list.some((l) => l !== null);
  }

  emit<K extends keyof Events>(type: K, payload: Events[K]): void {
    const list = this.listeners.get(type);
    if (!list) return;
    // The live list, as a Set would iterate: a listener removed meanwhile is skipped, one added meanwhile also runs.
    this.emitting++;
    try {
      for (let i = 0; i < list.length; i++) {
        const listener = list[i];
        if (listener === null) continue;
        try {
          (listener as (p: Events[K]) => void)(payload);
        } catch (e) {
          if (type !== 'error') this.emit('error' as K, e as Events[K]);
        }
      }
    } finally {
      if (--this.emitting === 0 && this.holes) this.compact();
    }
  }

  private compact(): void {
    this.holes = false;
    for (const [type, list] of this.listeners) {
      const live = list.filter((l) => l !== null);
      if (live.length > 0) this.listeners.set(type, live);
      else this.listeners.delete(type);
    }
  }
}
