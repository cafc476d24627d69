/**
 * A file storage's log faults for the left-out review tests (rev42): fsyncs held back while `hold` is on, and the next
 * log write failing (ENOSPC) once `failNext` is set.
 */
import { errnoError, isLog, type Faults } from '../fs/helpers.js';

export function failingLog() {
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const state = { failNext: false, gated: 0 };
  const faults: Faults = {
    beforeSync: (p) => (isLog(p) && gate ? (state.gated++, gate) : Promise.resolve()),
    write: (p) => (isLog(p) && state.failNext ? ((state.failNext = false), errnoError('ENOSPC', 'write')) : undefined),
  };
  return {
    faults,
    state,
    /** Holds every log fsync from now on. */
    hold(): void {
      gate = new Promise((r) => (open = r));
    },
    /** The next log write fails; the fsyncs held go on. */
    failAndRelease(): void {
      state.failNext = true;
      gate = undefined;
      open?.();
    },
  };
}
