/**
 * This build's version: what `lively -V` prints and what a node writes into its membership
 * row, so `lively nodes` shows a cluster running mixed builds. Imports nothing.
 */
export const LIVELY_VERSION = "0.1.0";
