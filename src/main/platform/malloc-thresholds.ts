/**
 * Keeps the memory of freed buffers mapped in a process that moves bytes (glibc's malloc, Linux).
 *
 * Moving a file allocates several times its size in short-lived buffers that Node gives no way to
 * reuse: every socket read (64 KiB), the HTTP parser's copy of each body piece, every cipher
 * update's output. V8 frees them in bursts after each scavenge; glibc then finds more than its trim
 * threshold (128 KiB by default) free at the top of the heap, gives it back to the kernel, and the
 * next pieces fault the same pages in again, one 4 KiB fault each. On this project's VM a fault
 * costs ~25 µs: a plain `http.get` of 1 GiB took 260–340 thousand of them and 6.5–9.6 CPU-s, its
 * crypto-free share of a transfer several times the crypto itself.
 *
 * glibc raises its thresholds by itself when a block it had mapped on its own (above the mmap
 * threshold) is freed: the mmap threshold becomes that block's size, the trim threshold twice that
 * (up to 32 MiB and 64 MiB, "dynamic mmap threshold", mallopt(3)). So one untouched 32 MiB buffer,
 * dropped at once, sets them as `MALLOC_MMAP_THRESHOLD_=32M MALLOC_TRIM_THRESHOLD_=64M` would, from
 * inside the process: measured here over 1 GiB, `http.get` 1.1–1.2 CPU-s and ~9 thousand faults;
 * the upload crypto at the floor's cost. The buffer is never written, so it costs no resident
 * memory; its address space goes back at the next scavenge, which is when glibc sees it freed.
 *
 * Elsewhere (macOS, Windows, musl) the system's allocator has no such thresholds and this is
 * skipped. A process that set the MALLOC_ variables itself keeps them (glibc then ignores frees
 * for its thresholds).
 */

/** glibc's largest dynamic mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX), less a margin. */
const RAISING_BLOCK = 32 * 1024 * 1024 - 64 * 1024;

let raised = false;

/** Once per process, before bytes move; cheap (one untouched allocation). */
export function raiseMallocThresholds(): void {
  if (raised || process.platform !== 'linux') return;
  raised = true;
  // Allocated by malloc above its threshold, so mapped on its own; freed when V8 collects it.
  Buffer.allocUnsafeSlow(RAISING_BLOCK);
}
