/**
 * The built CLI (out/cli, made by `npm run prepare`) and the headless host on each maintained Node
 * LTS line, Node binaries fetched from the npm registry (`npx node@22`, see test/peers/node-lines),
 * whatever Node runs this suite: `--help` and `--version`, `status` and a transfer from s3rver into
 * mega-mock with `--json`, and `serve` answering the REST API and moving a batch.
 *
 * The CLI uses the embedded store (node:sqlite on these lines, through
 * src/main/platform/sqlite-driver.ts, whatever Node compiled better-sqlite3), `serve` MongoDB
 * (jongodb, or MONGODB_URI). The driver itself is tested on these lines by
 * test/sqlite-driver.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startS3Peer, type S3Peer } from './peers/s3';
import { startMegaPeer, downloadSha256, type MegaPeer } from './peers/mega';
import { startMongo, type MongoPeer } from './peers/mongo';
import { ferryEnv } from './peers/env';
import { sha256, testBytes, waitFor } from './peers/fixtures';
import { NODE_LTS_LINES, nodeLine } from './peers/node-lines';
import { rawRequest } from './peers/host-probe';
import type { BatchStatus } from '../src/shared/contract';
import pkg from '../package.json';

const ROOT = resolve(__dirname, '..');
const BIN = join(ROOT, 'bin', 'megaferry.mjs');
const BUCKET = 'lts-bucket';
const TOKEN = 'node-lts-token-0123456789abcdef';
/** How long a request may go unanswered: the host checks S3 and MEGA before it answers a POST. */
const SLOW = 60_000;
/** A test's time on a loaded 2-core machine: each starts a Node process or two and moves a file. */
const LOADED_MACHINE_MS = 180_000;

let s3: S3Peer;
let mega: MegaPeer;
let mongo: MongoPeer;
let work: string;
const shas = new Map<string, string>();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function childEnv(line: number, store: 'embedded' | 'mongodb' = 'embedded'): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...ferryEnv({ s3, mega, mongo: store === 'mongodb' ? mongo : null }, join(work, `data-${line}`)),
  };
}

function run(bin: string, line: number, args: string[]): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(bin, [BIN, ...args], { env: childEnv(line), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'out', 'cli', 'megaferry.mjs'))) {
    throw new Error('out/cli/megaferry.mjs is missing: run `npm run prepare` first (npm test does)');
  }
  [s3, mega, mongo] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer(), startMongo()]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-lts-'));
  for (const line of NODE_LTS_LINES) {
    for (const [i, name] of ['cli.bin', 'host.bin'].entries()) {
      const data = testBytes(200_000 + line * 10 + i, line * 10 + i);
      await s3.put(BUCKET, `node${line}/${name}`, data);
      shas.set(`node${line}/${name}`, sha256(data));
    }
  }
}, 120_000);

afterAll(async () => {
  await Promise.all([s3?.stop(), mega?.stop(), mongo?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe.each(NODE_LTS_LINES.map((line) => [line]))('on Node %i (from the registry)', (line) => {
  /** The Node binary of this line, or a skip with the registry's reason. */
  async function nodeBin(skip: (note: string) => void): Promise<string> {
    const node = await nodeLine(line);
    if ('unavailable' in node) {
      console.warn(`skipped: ${node.unavailable}`);
      skip(node.unavailable);
      throw new Error('unreachable');
    }
    return node.bin;
  }

  it(
    'megaferry --help and --version',
    async (ctx) => {
      const bin = await nodeBin((note) => ctx.skip(note));
      const help = await run(bin, line, ['--help']);
      expect(help.code, help.stderr).toBe(0);
      for (const command of ['transfer', 'serve', 'status', 'files', 'retry', 'verify']) {
        expect(help.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
      }
      expect(help.stderr).toBe('');
      const version = await run(bin, line, ['--version']);
      expect(version.code, version.stderr).toBe(0);
      expect(version.stdout.trim()).toBe(pkg.version);
    },
    LOADED_MACHINE_MS,
  );

  it(
    'transfer copies an object from s3rver into mega-mock (--json), and status lists its batch',
    async (ctx) => {
      const bin = await nodeBin((note) => ctx.skip(note));
      const key = `node${line}/cli.bin`;
      const r = await run(bin, line, [
        'transfer',
        '--bucket',
        BUCKET,
        '--key',
        key,
        '--target',
        `/Node${line}`,
        '--json',
      ]);
      expect(r.code, r.stderr).toBe(0);
      // Nothing on stderr but what the CLI means to say: no warning from the runtime.
      expect(r.stderr).not.toMatch(/Warning|Error/);
      const status = JSON.parse(r.stdout) as BatchStatus;
      expect(status).toMatchObject({ overall_status: 'completed', total_files: 1, completed: 1, failed: 0 });
      expect(status.files[0]).toMatchObject({
        remote_key: key,
        status: 'done',
        s4_key: `/Node${line}/${key}`,
      });
      expect(await downloadSha256(mega, `/Node${line}/${key}`)).toEqual({
        sha256: shas.get(key),
        size: 200_000 + line * 10,
      });

      const listed = await run(bin, line, ['status', '--json']);
      expect(listed.code, listed.stderr).toBe(0);
      const batches = JSON.parse(listed.stdout) as { batch_id: string; overall_status: string }[];
      expect(batches).toContainEqual(
        expect.objectContaining({ batch_id: status.batch_id, overall_status: 'completed' }),
      );
      const one = await run(bin, line, ['status', status.batch_id, '--json']);
      expect(one.code, one.stderr).toBe(0);
      expect((JSON.parse(one.stdout) as BatchStatus).files.map((f) => f.status)).toEqual(['done']);
    },
    LOADED_MACHINE_MS,
  );

  it(
    'serve answers the REST API and moves a batch, then stops on SIGTERM',
    async (ctx) => {
      const bin = await nodeBin((note) => ctx.skip(note));
      const child = spawn(bin, [BIN, 'serve'], {
        env: { ...childEnv(line, 'mongodb'), MEGAFERRY_PORT: '0', MEGAFERRY_TOKEN: TOKEN },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      try {
        const url = await waitFor(
          'serve to listen',
          () => /listening on (http:\/\/\S+)/.exec(output)?.[1],
          SLOW,
        );
        // One connection per request (Connection: close): no idle keep-alive socket for a loaded
        // machine to reset under the next request.
        const health = await rawRequest(url, 'GET', '/api/health', { timeoutMs: SLOW });
        expect(health.status).toBe(200);
        expect(JSON.parse(health.body)).toEqual({ ok: true, store: 'mongodb', version: pkg.version });
        expect((await rawRequest(url, 'GET', '/api/batches', { timeoutMs: SLOW })).status).toBe(401);

        const auth = { authorization: `Bearer ${TOKEN}` };
        const key = `node${line}/host.bin`;
        const started = await rawRequest(url, 'POST', '/api/batches', {
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ bucket: BUCKET, keys: [key], target: `/Host${line}` }),
          timeoutMs: SLOW,
        });
        expect(started.status, started.body).toBe(202);
        const { batch_id } = JSON.parse(started.body) as { batch_id: string };
        const done = await waitFor(
          'the batch to end',
          async () => {
            const answer = await rawRequest(url, 'GET', `/api/batches/${batch_id}`, {
              headers: auth,
              timeoutMs: SLOW,
            });
            const s = JSON.parse(answer.body) as BatchStatus;
            return s.overall_status === 'in_progress' ? null : s;
          },
          120_000,
          200,
        );
        expect(done.overall_status, JSON.stringify(done.files)).toBe('completed');
        expect(await downloadSha256(mega, `/Host${line}/${key}`)).toEqual({
          sha256: shas.get(key),
          size: 200_000 + line * 10 + 1,
        });
      } finally {
        child.kill('SIGTERM');
      }
      expect(await exited).toBe(0);
    },
    LOADED_MACHINE_MS,
  );
});
