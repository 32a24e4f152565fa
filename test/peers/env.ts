/** The environment that points MegaFerry at the test peers, with a quick retry policy. */
import type { S3Peer } from './s3';
import type { MegaPeer } from './mega';

export function ferryEnv(
  peers: { s3: S3Peer; mega: MegaPeer; mongo?: { uri: string } | null },
  dataDir: string,
  retry: { attempts: number; baseMs: number; maxMs: number } = { attempts: 3, baseMs: 20, maxMs: 100 },
): Record<string, string> {
  return {
    ...peers.s3.env,
    MEGA_EMAIL: peers.mega.email,
    MEGA_PASSWORD: peers.mega.password,
    MEGAFERRY_MEGA_GATEWAY: peers.mega.gateway,
    ...(peers.mongo ? { MONGODB_URI: peers.mongo.uri } : {}),
    MEGAFERRY_DATA_DIR: dataDir,
    MEGAFERRY_RETRY_ATTEMPTS: String(retry.attempts),
    MEGAFERRY_RETRY_BASE_MS: String(retry.baseMs),
    MEGAFERRY_RETRY_MAX_MS: String(retry.maxMs),
  };
}
