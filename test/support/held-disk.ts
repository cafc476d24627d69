/**
 * A simulated disk (sim-disk.ts) on real timers whose fsyncs, and whose hints to other tabs, wait while held: for
 * tests that need a write applied but not durable, or a tab not yet told of another's commit, at a chosen moment.
 *
 *   const d = heldDisk();
 *   d.holdFsyncs(); const rewrite = a.space('s').put('k', 'new'); ...; d.releaseFsyncs(); await rewrite;
 *   afterEach(releaseHeldDisks);   // nothing stays held past a test
 */
import { SimDisk } from './sim-disk.js';

const HELD = 1_000_000;
const releases: Array<() => void> = [];

/** Lets every held fsync and hint of every disk made so far go (an afterEach). */
export function releaseHeldDisks(): void {
  for (const release of releases.splice(0)) release();
}

export function heldDisk() {
  let fsyncHeld = false;
  let hintsHeld = false;
  const fsyncs: Array<() => void> = [];
  const hints: Array<() => void> = [];
  const disk = new SimDisk({
    timers: {
      setTimeout: (fn: () => void, ms: number) => {
        if (ms === HELD) return void fsyncs.push(fn);
        if (ms === 0 && hintsHeld) return void hints.push(fn);
        return setTimeout(fn, ms);
      },
      clearTimeout: (h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>),
    },
    fsyncDelay: () => (fsyncHeld ? HELD : 1), // hints go at 0 ms: told apart from fsyncs
  });
  const releaseFsyncs = () => {
    fsyncHeld = false;
    for (const fn of fsyncs.splice(0)) fn();
  };
  const releaseHints = () => {
    hintsHeld = false;
    for (const fn of hints.splice(0)) fn();
  };
  releases.push(() => (releaseHints(), releaseFsyncs()));
  return {
    disk,
    holdFsyncs: () => void (fsyncHeld = true),
    holdHints: () => void (hintsHeld = true),
    releaseFsyncs,
    releaseHints,
  };
}
