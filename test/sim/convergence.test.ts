// Part 1 of the convergence property run (see convergence-suite.ts); SEED=<n> replays one schedule here.
import { defineConvergence } from './convergence-suite.js';

defineConvergence(0, 2);
