/** Types of steady-deopts.mjs (test/steady-deopts.test.ts reads it). */
export interface SteadyDeopt {
  /** The write it happened in. */
  at: number;
  /** The function V8 deoptimized. */
  fn: string;
  kind: string;
  reason: string;
  /** The frame V8 named, innermost first, then where it was inlined; the library's as `dist/...`. */
  where: string[];
}
export const V8_FLAGS: string[];
export function steadyDeopts(output: string, options?: { warm?: number; lib?: string; all?: boolean }): SteadyDeopt[];
/** The child runs the workload only; which writes count as warm is steadyDeopts' `warm`. */
export function runChild(options?: { clients?: number; writes?: number }): Promise<string>;
