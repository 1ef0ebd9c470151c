/**
 * The word of the record handshake: what the starter of a daemon writes on its stdin once the
 * daemon's pid is saved (lib/base/procs.ts `startDetached`), and what the daemon waits for
 * before it does anything (lib/engine/daemon/adoption.ts).
 */
export const RECORDED_SIGNAL = "recorded\n";
