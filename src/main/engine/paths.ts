/** Destination paths: the target folder plus the object key's own path. */
import { targetProblem } from '../../shared/object-paths';
import { destinationKey } from '../../shared/destinations';
import { InputError } from './errors';

/** Splits a MEGA path into its non-empty segments. */
export function pathSegments(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

/** `s4Key('/Backup', 'photos/2024/a.jpg')` → `/Backup/photos/2024/a.jpg` (MEGA's rule, shared/destinations.ts). */
export function s4Key(target: string, key: string): string {
  // Inputs were checked at the boundary; a path that would leave its target is a bug, never a write.
  const problem = targetProblem(target);
  const placed = destinationKey('mega', target, key);
  if (problem || 'problem' in placed)
    throw new InputError(
      `cannot place ${JSON.stringify(key)} in ${JSON.stringify(target)}: ${problem ?? ('problem' in placed ? placed.problem : '')}`,
    );
  return placed.key;
}

/** Keys that name a "folder" placeholder rather than an object (S3 consoles create them). */
export function isFolderMarker(key: string, size: number): boolean {
  return key.endsWith('/') && size === 0;
}
