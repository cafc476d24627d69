import type { BuildOptions } from 'esbuild';

export declare const demoBuildOptions: BuildOptions;
export declare function buildDemo(): Promise<void>;
