/**
 * Keeps V8's young generation at its initial size (1 MiB semi-spaces) in a command-line process
 * that moves bytes, imported first by the CLI's entry so it holds from the start.
 *
 * A transfer allocates little JavaScript but a lot of short-lived buffers, and the few objects that
 * survive each scavenge (pieces in flight) make V8 double the young generation again and again up
 * to 2 × 16 MiB. Then the old generation's headroom (about the size of the live heap, ~15 MB here)
 * is below the young generation's capacity, so V8 starts incremental marking again after almost
 * every scavenge: measured on a 1 GiB transfer, 94 to 129 full mark-compacts (up to ~2 CPU-s) and
 * ~30 MB more peak RSS, against one mark-compact with the young generation kept small (scavenges
 * stay cheap: almost nothing in it survives).
 *
 * `--semi-space-growth-factor` is read by V8 each time it would grow the young generation, so it
 * takes effect when set at run time (Node leaves V8's flags writable after start-up). Set later
 * (when the first bytes move) it comes too late: a transfer's start-up has grown the young
 * generation by then (33 MB of heap committed at the end of a 1 GiB transfer instead of 22).
 *
 * Only the commands that move bytes set it: the others (`status`, `files`, `--help`, …) would pay
 * for loading node:v8 and for their start-up's more frequent scavenges, ~9 % of the instructions of
 * a `status`. An unknown command leaves V8 as it is (memory only; nothing else depends on it).
 */
const MOVES_BYTES = new Set(['transfer', 'retry', 'resume', 'worker', 'serve', 'verify']);

const command = process.argv.slice(2).find((arg) => !arg.startsWith('-'));
if (command !== undefined && MOVES_BYTES.has(command)) {
  process.getBuiltinModule('node:v8').setFlagsFromString('--semi-space-growth-factor=1');
}
