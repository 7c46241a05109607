// The Node options wafleet's nodes run with, and the check that tells whether they are in effect.
//
// Baileys makes one AsyncLocalStorage per socket (its key store's transactions) and never disables
// it. With Node 22's default AsyncLocalStorage, built on async hooks, every promise the process
// creates visits every enabled instance, so each promise costs O(sockets ever made in the process)
// and a node's CPU per link grows with the sessions it holds (0.3 s at 100 sessions to 3.6 s at 950
// in docs/benchmarks.md). `--experimental-async-context-frame` (Node 22.7+, the default from Node 24,
// which refuses the flag as a "bad option") makes it O(1) per promise.
export const ASYNC_CONTEXT_FRAME_FLAG = "--experimental-async-context-frame";
const DISABLE_FRAME_FLAG = "--no-async-context-frame";

/** The flags to start a wafleet node with on this Node: only the ones this Node knows. */
export function nodeFlags(allowed: ReadonlySet<string> = process.allowedNodeEnvironmentFlags): string[] {
  return allowed.has(ASYNC_CONTEXT_FRAME_FLAG) ? [ASYNC_CONTEXT_FRAME_FLAG] : [];
}

/** The flags that keep AsyncLocalStorage on async hooks (Node 22's default), to measure what the frame saves. */
export function hooksFlags(nodeVersion = process.versions.node): string[] {
  return Number.parseInt(nodeVersion.split(".")[0]!, 10) >= 24 ? [DISABLE_FRAME_FLAG] : [];
}

/**
 * Whether this process's AsyncLocalStorage is backed by AsyncContextFrame (O(1) per promise),
 * from the options it was started with: on by default from Node 24 unless turned off, on Node 22-23
 * only with the flag (in the command line or NODE_OPTIONS).
 */
export function asyncContextFrameEnabled(
  nodeVersion = process.versions.node,
  options: readonly string[] = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)],
): boolean {
  const major = Number.parseInt(nodeVersion.split(".")[0]!, 10);
  if (major >= 24) return !options.includes(DISABLE_FRAME_FLAG);
  return options.includes(ASYNC_CONTEXT_FRAME_FLAG);
}
