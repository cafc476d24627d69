/**
 * How often a client's presence digest is answered. A digest is answered with every entry of the space its sender
 * lacks, and (asked with `r`) our own digest: an empty one of some 30 bytes bought the space's whole presence, up to
 * 4 096 entries of 4 KiB metadata, each time it was sent (test/security/presence-digest-repeat.test.ts). An honest
 * client sends its digest of a space when the space goes live on the link, and answers ours once; after that, news
 * reaches it as it happens. So a client's digests of a space are answered at most once a window; one within the
 * window of the last answered is not answered at all — what it would have brought, the members' heartbeats bring
 * within ttl / 3 (and the client's own entries come with its beats).
 */
import { inWindow } from './need-answers.js';

export const DIGEST_WINDOW_MS = 10_000;

/** Spaces a channel may have answered within a window before those whose window ended are forgotten. */
const PRUNE_AT = 64;

export class DigestWindows {
  /** Per client channel: space → when its digest was answered last. */
  private readonly answered = new WeakMap<object, Map<string, number>>();

  /** Whether a digest of `space` from `channel` is answered now (and noted so), or falls within the last one's window. */
  answers(channel: object, space: string, now: number): boolean {
    let spaces = this.answered.get(channel);
    if (!spaces) this.answered.set(channel, (spaces = new Map()));
    const at = spaces.get(space);
    if (at !== undefined && inWindow(at, now, DIGEST_WINDOW_MS)) return false;
    spaces.delete(space);
    if (spaces.size >= PRUNE_AT) for (const [s, t] of spaces) if (!inWindow(t, now, DIGEST_WINDOW_MS)) spaces.delete(s);
    spaces.set(space, now);
    return true;
  }
}
