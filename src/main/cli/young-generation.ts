/**
 * V8's settings for the command this process runs, imported first by the CLI's entry so they hold
 * from the start (node:v8 is taken with process.getBuiltinModule: `--help` never loads it): a
 * command that moves bytes keeps the young generation small; the others (status, files, pause, …)
 * run without V8's optimizing compilers.
 *
 * Keeps V8's young generation at its initial size (1 MiB semi-spaces) in a command-line process
 * that moves bytes.
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
 * The same commands free dead buffers' memory in the scavenge that finds them dead
 * (`--no-concurrent-array-buffer-sweeping`), not on a background thread after it: a transfer
 * leaves ~4 bytes of dead buffers per byte moved (the socket's read, the HTTP parser's copy, the
 * CBC-MAC's and the CTR's outputs), and a sweep delayed by a busy machine let them pile up between
 * the scavenges the uploader asks for (platform/young-gc.ts). Measured on a 1 GiB transfer at load
 * 6-7: 97.3-97.7 MB of peak RSS against 99.8-111.0 MB with the sweep on another thread; memory
 * counted in array buffers drops from ~22 to ~5.5 MB at each scavenge instead of mostly not at
 * all (the sweep came after).
 *
 * Only the commands that move bytes set them: the others (`status`, `files`, …) would pay for their
 * start-up's more frequent scavenges (with node:v8's loading, ~9 % of the instructions of a
 * `status`). A command not named here is taken for a short one (this is tuning only: nothing else
 * depends on it).
 *
 * A short command gains nothing from TurboFan (or Maglev, on by default from Node 22): it ends
 * before optimized code would pay back its compiling, done on another thread whose CPU and memory
 * the process pays all the same. In `megaferry status` TurboFan compiled path functions of the
 * module loader (~4 MB of peak RSS); without it status took 0.142 s of CPU instead of 0.151
 * (least of 30 on Node 20; 0.160 instead of 0.172 on Node 22), node:v8's loading included.
 * `--help` (no command) loads nothing more.
 */
const MOVES_BYTES = new Set(['transfer', 'retry', 'resume', 'worker', 'serve', 'verify']);

/**
 * Node compiles its own modules (node:crypto, node:http, …) from a code cache built into it, which
 * V8 accepts only while its flags hash as they did when the cache was made: after
 * `--semi-space-growth-factor` or `--no-turbofan` (not `--no-maglev` or
 * `--no-concurrent-array-buffer-sweeping`), every built-in module loaded is compiled from its
 * source instead, ~5× the instructions (node:crypto, node:http and node:stream: 59 M against 11 M,
 * Node 20 and 22 alike). So the built-in modules a command is known to load come first, cached:
 * those of the S3 SDK, megajs and the HTTP client for the commands that move bytes (with the lazy
 * parts of Node that they reach: Web Crypto, web streams, process.report when node:process is
 * imported as a module, net's BlockList and SocketAddress when node:net is), and the output stream
 * (a terminal or a pipe loads node:tty or node:net). Tuning only, as the flags: a module missed
 * here is compiled from its source, one loaded for nothing costs its cached loading.
 */
function loadBuiltinsFirst(movesBytes: boolean): void {
  process.getBuiltinModule('node:os');
  void process.stdout;
  if (!movesBytes) return;
  for (const name of ['node:crypto', 'node:zlib', 'node:http', 'node:https', 'node:vm'] as const)
    process.getBuiltinModule(name);
  void process.stderr;
  void process.getBuiltinModule('node:fs').ReadStream;
  void globalThis.crypto;
  void globalThis.ReadableStream;
  void process.report;
  const net = process.getBuiltinModule('node:net');
  void net.BlockList;
  void net.SocketAddress;
}

const command = process.argv.slice(2).find((arg) => !arg.startsWith('-'));
if (command !== undefined) {
  const v8 = process.getBuiltinModule('node:v8');
  const movesBytes = MOVES_BYTES.has(command);
  loadBuiltinsFirst(movesBytes);
  v8.setFlagsFromString(
    movesBytes
      ? '--semi-space-growth-factor=1 --no-concurrent-array-buffer-sweeping'
      : '--no-turbofan --no-maglev',
  );
}
