/** MEGA's cloud drive in the destination registry: created from its account, tested by a login. */
import type { ConnectionTestResult } from '../../../shared/contract';
import { megaDestinationId } from '../../../shared/destinations';
import { scrubSecrets, shortReason } from '../errors';
import type { DestinationContext, DestinationFactory } from './registry';
import type { MegaConfig } from './mega';
import { LazyDestination } from './lazy';

export function megaConfigOf(
  values: { email: string; password: string },
  ctx: DestinationContext,
): MegaConfig {
  return {
    email: values.email,
    password: values.password,
    gateway: ctx.megaGateway,
    secondFactorCode: ctx.mfaCode ?? undefined,
    // Each chunk POST and API command is retried on its own before the attempt counts as failed.
    requestRetry: ctx.requestRetry,
    connections: ctx.connections,
  };
}

/** The MEGA destination for `config`; megajs and the uploader are loaded at its first use. */
export function megaDestination(config: MegaConfig): LazyDestination {
  return new LazyDestination(
    megaDestinationId(config.email),
    async () => new (await import('./mega')).MegaDestination(config),
  );
}

export const megaFactory: DestinationFactory<'mega'> = {
  kind: 'mega',
  open(id, values, ctx) {
    if (megaDestinationId(values.email) !== id) return null;
    return megaDestination(megaConfigOf(values, ctx));
  },
  async test(values, ctx): Promise<ConnectionTestResult> {
    if (!values.email || !values.password) {
      return { target: 'mega', ok: false, message: 'MEGA e-mail and password are not set' };
    }
    // Two tries per request, at once: a pooled connection the server had just closed is tried
    // again, and an unreachable MEGA still answers at once.
    const destination = megaDestination({
      ...megaConfigOf(values, ctx),
      requestRetry: { attempts: 2, baseDelayMs: 0, maxDelayMs: 0 },
    });
    try {
      await destination.connect();
      return { target: 'mega', ok: true, message: `logged in as ${values.email}` };
    } catch (err) {
      return { target: 'mega', ok: false, message: scrubSecrets(shortReason(err), [values.password]) };
    } finally {
      await destination.close();
    }
  },
};
