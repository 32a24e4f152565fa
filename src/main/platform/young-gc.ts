/**
 * A scavenge (V8's young-generation GC) asked for by code that knows it just made a lot of garbage.
 *
 * Moving bytes through Node's APIs leaves about four buffers of garbage per byte moved (the socket
 * read, the HTTP parser's copy of it, the CBC-MAC's output, the CTR output copied into the chunk);
 * they are external memory, which V8 collects only when the young generation's backing stores pass
 * twice its largest semi-space (2 × 16 MiB, a constant): ~32 MB of dead buffers resident before each
 * scavenge. Asking for a scavenge every few MiB moved keeps that garbage a few MB.
 *
 * `gc` is V8's own, reached the documented way for a flag set at run time (`--expose-gc` installs
 * it in contexts made afterwards). Where that is refused (a host that locks V8's flags), nothing
 * is collected early.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options: { type: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

let gc: Gc | null | undefined;

function v8Gc(): Gc | null {
  if (gc !== undefined) return gc;
  try {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as Gc;
    setFlagsFromString('--no-expose-gc');
  } catch {
    gc = null;
  }
  return gc;
}

/** A scavenge now. */
export function collectYoungGarbage(): void {
  v8Gc()?.({ type: 'minor' });
}
