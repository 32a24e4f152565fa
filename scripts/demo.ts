/**
 * `npm run demo`: a sandbox with no accounts. Starts s3rver with a sample bucket, mega-mock with
 * its shipped account, the embedded store and the headless host, all under one temporary folder
 * removed on exit, and prints the UI address and the environment that points the CLI at the same
 * sandbox.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { configFromEnv } from '../src/main/service/config';
import { FerryService } from '../src/main/service/ferry-service';
import { startHost } from '../src/main/host/server';
import { quietNodeVersionWarning } from '../src/main/node-warnings';
import { startS3Peer } from '../test/peers/s3';
import { startMegaPeer } from '../test/peers/mega';
import { repeatingStream, testBytes } from '../test/peers/fixtures';
import { cliEnvironmentLines, shellOf } from './cli-environment';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const BUCKET = 'demo-media';

/** Nested folders of photos, music, video and documents: 0 B to 200 MiB. */
const SAMPLE: [string, number][] = [
  ['README.txt', 2 * KiB],
  ['empty.txt', 0],
  ['photos/2023/summer/beach-001.jpg', 3 * MiB + 123],
  ['photos/2023/summer/beach-002.jpg', 2 * MiB + 77],
  ['photos/2023/summer/sunset.jpg', 4 * MiB],
  ['photos/2023/winter/snow-001.jpg', 2 * MiB + 5],
  ['photos/2023/winter/snow-002.jpg', 2 * MiB + 6],
  ['photos/2024/Café du Monde.jpg', 1 * MiB + 300],
  ['photos/2024/family/grandma 90th.jpg', 5 * MiB + 1],
  ['photos/2024/family/group photo.jpg', 6 * MiB + 2],
  ['photos/2024/raw/IMG_0001.CR3', 25 * MiB],
  ['photos/2024/raw/IMG_0002.CR3', 26 * MiB + 11],
  ['music/albums/Quiet Hours/01 - Dawn.flac', 28 * MiB],
  ['music/albums/Quiet Hours/02 - Noon.flac', 31 * MiB + 9],
  ['music/albums/Quiet Hours/03 - Dusk.flac', 22 * MiB + 1],
  ['music/albums/Quiet Hours/cover.png', 512 * KiB],
  ['music/singles/première.mp3', 7 * MiB],
  ['music/singles/tiny.mid', 1],
  ['video/2024/holiday/clip-01.mp4', 60 * MiB],
  ['video/2024/holiday/clip-02.mp4', 75 * MiB + 3],
  ['video/2024/holiday/clip-03.mp4', 200 * MiB],
  ['video/2024/interview.mov', 120 * MiB + 17],
  ['video/archive/1999/tape-A.mpg', 90 * MiB],
  ['docs/contracts/2024/lease.pdf', 300 * KiB],
  ['docs/contracts/2024/insurance.pdf', 420 * KiB],
  ['docs/invoices/2024-01.pdf', 80 * KiB],
  ['docs/invoices/2024-02.pdf', 81 * KiB],
  ['docs/invoices/2024-03.pdf', 82 * KiB],
  ['docs/notes/ideas.md', 4 * KiB],
  ['docs/notes/deep/er/still/deeper/note.txt', 16],
  ['docs/spreadsheets/budget.xlsx', 128 * KiB],
  ['docs/spreadsheets/keys.csv', 131_073],
];

/** A stream of zeros (the 1 GiB object of seed B's test advice, never held in memory). */
const zeros = (size: number): Readable => repeatingStream(Buffer.alloc(MiB), size);

async function main(): Promise<void> {
  quietNodeVersionWarning();
  const root = await mkdtemp(join(tmpdir(), 'megaferry-demo-'));
  process.stdout.write(`sandbox folder: ${root}\n`);
  const s3 = await startS3Peer([BUCKET]);
  const mega = await startMegaPeer();
  let service: FerryService | null = null;
  let host: Awaited<ReturnType<typeof startHost>> | null = null;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstopping the sandbox…\n');
    await host?.close().catch(() => undefined);
    await service?.close().catch(() => undefined);
    await Promise.all([s3.stop(), mega.stop()]).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  process.on('SIGHUP', () => void stop());

  const total = SAMPLE.length + 1;
  let n = 0;
  for (const [key, size] of SAMPLE) {
    await s3.put(BUCKET, key, testBytes(size, ++n));
    process.stdout.write(`\rfilling the sample bucket: ${n}/${total} objects`);
  }
  await s3.put(BUCKET, 'big/seed-b-1GiB.bin', zeros(GiB), GiB);
  process.stdout.write(`\rfilling the sample bucket: ${total}/${total} objects\n`);

  const env = {
    ...s3.env,
    MEGA_EMAIL: mega.email,
    MEGA_PASSWORD: mega.password,
    MEGAFERRY_MEGA_GATEWAY: mega.gateway,
    MEGAFERRY_DATA_DIR: join(root, 'data'),
    MEGAFERRY_HOST: process.env.MEGAFERRY_HOST ?? '127.0.0.1',
    MEGAFERRY_PORT: process.env.MEGAFERRY_PORT ?? '0',
  };
  // What the CLI needs to reach the same peers and share the same store.
  const cliEnv = {
    ...s3.env,
    MEGA_EMAIL: mega.email,
    MEGA_PASSWORD: mega.password,
    MEGAFERRY_MEGA_GATEWAY: mega.gateway,
    MEGAFERRY_DATA_DIR: env.MEGAFERRY_DATA_DIR,
  };
  const config = configFromEnv(env);
  service = await FerryService.open(config, { resume: true, kind: 'serve', name: 'demo' });
  host = await startHost(service, {
    host: config.host.host,
    port: config.host.port,
    token: process.env.MEGAFERRY_TOKEN,
    uiDir: fileURLToPath(new URL('../renderer', import.meta.url)),
  });
  process.stdout.write(
    [
      '',
      `MegaFerry sandbox: bucket "${BUCKET}" (${total} objects, 0 B to 1 GiB), MEGA account ${mega.email}, embedded store.`,
      `listening on ${host.url}`,
      `UI: ${host.uiUrl}`,
      '',
      'Try it from another terminal:',
      `  curl -s -H 'Authorization: Bearer ${host.token}' -H 'Content-Type: application/json' \\`,
      `    -d '{"bucket":"${BUCKET}","prefix":"photos/","target":"/Backup"}' ${host.url}/api/batches`,
      `  curl -s -H 'Authorization: Bearer ${host.token}' ${host.url}/api/batches`,
      '',
      'The command line against this sandbox (paste into another terminal, in this folder):',
      ...cliEnvironmentLines(cliEnv, shellOf(process.platform)).map((line) => `  ${line}`),
      `  npm run -s megaferry -- transfer --bucket ${BUCKET} --prefix docs/ --target /FromTheCli`,
      '  npm run -s megaferry -- status',
      '',
      'Ctrl-C stops the sandbox and removes its folder.',
      '',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
