/**
 * Who holds a lease on a file: `host:pid:nonce`. A lease of a process that is gone can be taken
 * back at once on the same host; on other hosts it is taken back when it expires.
 */
import { hostname } from 'node:os';

const liveOwners = new Set<string>();

/**
 * A new owner id. Its nonce tells apart the owners of one process and of processes that reuse a
 * pid; it guards nothing, so it is drawn with Math.random: node:crypto would be loaded for it by
 * every process that opens the service (`status` included), ~7 ms of CPU.
 */
export function newOwnerId(): string {
  const nonce = Math.floor(Math.random() * 0x1_0000_0000)
    .toString(16)
    .padStart(8, '0');
  const id = `${hostname()}:${process.pid}:${nonce}`;
  liveOwners.add(id);
  return id;
}

export function retireOwner(id: string): void {
  liveOwners.delete(id);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when the owner is certainly gone (only knowable on this host). */
export function isDeadOwner(owner: string | null | undefined): boolean {
  if (!owner) return true;
  const parts = owner.split(':');
  const nonce = parts.pop();
  const pid = Number(parts.pop());
  const host = parts.join(':');
  if (!nonce || !Number.isInteger(pid) || host !== hostname()) return false;
  if (pid === process.pid) return !liveOwners.has(owner);
  return !pidAlive(pid);
}
