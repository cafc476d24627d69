// Types of bench/lib/row.mjs (the row schema of a scenario's result), for TypeScript callers such as tests.

export interface Target {
  atMost?: number;
  atLeast?: number;
  /** The bound is that many times this peer's figure in the same row. */
  of?: string;
}

export interface Row {
  case: string;
  metric: string;
  higherIsBetter: boolean;
  concord: number | null;
  peers: Record<string, number>;
  note?: string;
  target?: Target | Target[];
}

export declare class BenchRowError extends Error {}
export declare function checkRow(scenario: string, row: unknown): Row;
export declare function rowMaker(scenario: string): (fields: Row) => Row;
export declare function checkResult(scenario: string, result: unknown): { rows: Row[] };
export declare function targetMet(row: Row): boolean | null;
export declare function formatTarget(target: Target | Target[] | undefined, formatNumber?: (x: number) => string): string;
