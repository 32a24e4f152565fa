/** A local folder in the destination registry: any absolute folder of this machine, tested by writing. */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConnectionTestResult } from '../../../shared/contract';
import { destinationTargetProblem, kindOfDestinationId } from '../../../shared/destinations';
import { shortReason } from '../errors';
import { LazyDestination } from './lazy';
import type { DestinationFactory } from './registry';

export const localFactory: DestinationFactory<'local'> = {
  kind: 'local',
  open(id) {
    if (kindOfDestinationId(id) !== 'local') return null;
    const root = id.slice('local:'.length);
    if (destinationTargetProblem('local', root)) return null;
    return new LazyDestination(id, async () => new (await import('./local')).LocalDestination({ root }));
  },
  async test(values): Promise<ConnectionTestResult> {
    const folder = values.default_target;
    if (!folder) {
      return {
        target: 'local',
        ok: true,
        message: 'no default folder: give an absolute folder with each transfer (--dest local:/path)',
      };
    }
    const problem = destinationTargetProblem('local', folder);
    if (problem) return { target: 'local', ok: false, message: `local.default_target ${problem}` };
    // Written and removed at once: the folder exists (or can be made) and takes files.
    const probe = join(folder, `.megaferry-test-${randomBytes(4).toString('hex')}`);
    try {
      await mkdir(folder, { recursive: true });
      await writeFile(probe, 'megaferry');
      await rm(probe, { force: true });
      return { target: 'local', ok: true, message: `${folder} can be written` };
    } catch (err) {
      await rm(probe, { force: true }).catch(() => undefined);
      return { target: 'local', ok: false, message: `${folder}: ${shortReason(err)}` };
    }
  },
};
