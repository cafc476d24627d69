/**
 * A session's inbound turn-taking (session.ts): its frames, and the work it queues behind them, run one at a time in
 * the order they came. A task that finishes at once (a LIVE frame joined into storage that answers at once: every
 * client of a relay, every write the relay fans out — S7) runs at once, in the caller's turn, with no promise made and
 * no turn taken. A task that must wait (a hello, a join into file storage or IndexedDB) returns its promise; while it
 * runs, whatever comes waits behind it and then runs in order, each in a turn of its own, as every task did before.
 *
 * Invariants: a task starts only once every task before it ended (at once or later) — a task that arrives while one
 * runs at once (re-entrant: a change listener that writes, a transport that answers within the call) waits behind it;
 * a task that throws, or whose promise rejects, goes to `fail` and the tasks behind it still run (they check what they
 * need, as a session checks its `failed`).
 *
 * While a task waits (queued, or running late) the inbox is `busy`, and `moved` is told when that starts and ends: a
 * session is not caught up while a frame it received is still being handled (a LIVE frame joining into file storage:
 * `synced` would resolve `whenSynced()` before the frame's keys are readable). A task that ends at once tells nothing.
 */

/** The settled promise a task that ended at once answers with (no promise made per task): `run` callers may test for it. */
export const DONE: Promise<void> = Promise.resolve();

export type Task = () => void | Promise<void>;

export class Inbox {
  /** The end of the last task that took a turn, or DONE. */
  private tail: Promise<void> = DONE;
  /** Tasks queued or running that took a turn: while any, what comes waits behind them. */
  private waiting = 0;
  /** A task is running at once (on the stack). */
  private running = false;
  /** Opens the gate that tasks arriving during the task running at once wait on: called once that task ended. */
  private open: (() => void) | undefined;

  constructor(
    private readonly fail: (e: unknown) => void,
    private readonly moved: () => void = () => {},
  ) {}

  /** Some task is queued or running late: what came is not all handled yet. */
  get busy(): boolean {
    return this.waiting > 0;
  }

  /** Settles once every task so far ended. */
  get idle(): Promise<void> {
    return this.tail;
  }

  /** Runs `task` in turn: at once when none runs or waits, else behind them; the promise settles once it ended. */
  run(task: Task): Promise<void> {
    if (this.running || this.waiting > 0) return this.queue(task);
    this.running = true;
    let out: void | Promise<void> = undefined;
    let failed = false;
    let error: unknown;
    try {
      out = task();
    } catch (e) {
      (failed = true), (error = e);
    } finally {
      this.running = false;
    }
    const open = this.open;
    this.open = undefined;
    if (failed) this.fail(error);
    if (!(out instanceof Promise)) {
      open?.();
      return DONE;
    }
    if (this.waiting++ === 0) this.moved();
    const end = out.then(this.ended, this.failed);
    if (open) void end.then(open);
    else this.tail = end;
    return end;
  }

  private queue(task: Task): Promise<void> {
    // Arriving while a task runs at once: behind a gate that opens once it ended (it may end later: a promise).
    if (this.running && !this.open) this.tail = new Promise<void>((resolve) => (this.open = resolve));
    if (this.waiting++ === 0) this.moved();
    return (this.tail = this.tail.then(task).then(this.ended, this.failed));
  }

  private readonly ended = (): void => {
    if (--this.waiting === 0) this.moved();
  };

  private readonly failed = (e: unknown): void => {
    this.waiting--;
    this.fail(e);
    if (this.waiting === 0) this.moved();
  };
}
