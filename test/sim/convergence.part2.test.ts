// Part 2 of the convergence property run (see convergence-suite.ts), a separate file so both run in parallel.
import { defineConvergence } from './convergence-suite.js';

defineConvergence(1, 2);
