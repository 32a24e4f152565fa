/**
 * `megaferry verify` as a user runs it (the built bin, child processes) against real peers:
 * s3rver, mega-mock and the embedded store. Files are transferred, then one is given a wrong MAC
 * on purpose (its node key patched in mega-mock's stored node: the meta-MAC changed, the file key
 * kept, so the bytes still decrypt right), and verify must find exactly that one, `--repair` must
 * replace it in place (the old node in the Rubbish Bin), and the documents must show the results.
 * Downloads in this test check the MAC with the reference (peers/mega.ts), never megajs's.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Storage } from 'megajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileRecord } from '../src/shared/api';
import type { BatchStatus } from '../src/shared/contract';
import type { VerifyReport } from '../src/main/service/verify';
import { ferryEnv } from './peers/env';
import { KiB, MiB, sha256, testBytes } from './peers/fixtures';
import { downloadSha256, listPath, sessionFetch, startMegaPeer, type MegaPeer } from './peers/mega';
import { startS3Peer, type S3Peer } from './peers/s3';

const BIN = resolve(__dirname, '..', 'bin', 'megaferry.mjs');
const BUCKET = 'verify-bucket';
const SIZES: Record<string, number> = {
  'v/empty.bin': 0,
  'v/boundary.bin': 128 * KiB,
  'v/odd.bin': 300_001,
  'v/wrong-mac.bin': MiB + 3,
  'v/big.bin': 3 * MiB + 5,
};

let s3: S3Peer;
let mega: MegaPeer;
let work: string;
let batchId: string;
const shas = new Map<string, string>();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...ferryEnv({ s3, mega, mongo: null }, join(work, 'data')),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
}

async function files(): Promise<Map<string, FileRecord>> {
  const r = await run(['files', '--json', '--limit', '1000']);
  expect(r.code, r.stderr).toBe(0);
  const page = JSON.parse(r.stdout) as { files: FileRecord[] };
  return new Map(page.files.map((f) => [f.remote_key, f]));
}

/** Changes the meta-MAC in mega-mock's stored node key of `handle`, keeping the file key. */
async function breakMac(handle: string): Promise<void> {
  const storage = await new Storage({
    email: mega.email,
    password: mega.password,
    gateway: mega.gateway,
    keepalive: false,
    fetch: sessionFetch(),
  }).ready;
  try {
    for (const user of mega.state.users.values()) {
      const node = user.files.find((f) => f.h === handle) as { k?: string } | undefined;
      if (!node?.k) continue;
      const key = Buffer.from(storage.aes.decryptECB(Buffer.from(node.k, 'base64url')));
      // File key = key[0..16] XOR key[16..32]: flip a bit of the MAC (byte 24) and of byte 8 alike.
      key[24] = (key[24] as number) ^ 0x01;
      key[8] = (key[8] as number) ^ 0x01;
      node.k = Buffer.from(storage.aes.encryptECB(key)).toString('base64url');
      return;
    }
    throw new Error(`mega-mock has no node ${handle}`);
  } finally {
    await storage.close().catch(() => undefined);
  }
}

beforeAll(async () => {
  [s3, mega] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer()]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-verify-'));
  let seed = 1;
  for (const [key, size] of Object.entries(SIZES)) {
    const data = testBytes(size, seed++);
    await s3.put(BUCKET, key, data);
    shas.set(key, sha256(data));
  }
  const r = await run(['transfer', '--bucket', BUCKET, '--prefix', 'v/', '--target', '/Checked', '--json']);
  expect(r.code, r.stderr).toBe(0);
  const status = JSON.parse(r.stdout) as BatchStatus;
  expect(status.overall_status).toBe('completed');
  batchId = status.batch_id;
}, 120_000);

afterAll(async () => {
  await Promise.all([s3?.stop(), mega?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('megaferry verify', () => {
  it('finds every file of a batch ok, at 0 bytes and at the 128 KiB boundary too, and records it', async () => {
    const r = await run(['verify', '--batch', batchId, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as VerifyReport;
    expect(report.summary).toMatchObject({ files: 5, ok: 5 });
    expect(report.files.map((f) => f.result)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(report.repair).toBeNull();
    const docs = await files();
    for (const key of Object.keys(SIZES)) {
      expect(docs.get(key)?.verify_result, key).toBe('ok');
      expect(Date.parse(docs.get(key)?.verified_at ?? '')).toBeGreaterThan(Date.now() - 60_000);
    }
  });

  it('finds exactly the file with a wrong MAC (exit 1); --repair replaces it in place, then all is ok (exit 0)', async () => {
    const before = await files();
    const oldHandle = before.get('v/wrong-mac.bin')?.mega_handle as string;
    expect(oldHandle).toBeTruthy();
    await breakMac(oldHandle);
    // A download that checks the MAC now refuses it, though the bytes are right.
    await expect(downloadSha256(mega, '/Checked/v/wrong-mac.bin')).rejects.toThrow(/MAC mismatch/);

    const found = await run(['verify', '--all']);
    expect(found.code, found.stderr).toBe(1);
    const lines = found.stdout.trim().split('\n');
    const mismatched = lines.filter((l) => !l.startsWith('ok ') && !l.startsWith('verified '));
    expect(mismatched).toHaveLength(1);
    expect(mismatched[0]).toMatch(
      /^mac_mismatch +verify-bucket\/v\/wrong-mac\.bin → \/Checked\/v\/wrong-mac\.bin — /,
    );
    expect(lines.filter((l) => l.startsWith('ok '))).toHaveLength(4);
    expect(lines.at(-1)).toBe('verified 5 files: 4 ok, 1 MAC mismatch');
    const flagged = await files();
    expect(flagged.get('v/wrong-mac.bin')?.verify_result).toBe('mac_mismatch');
    expect([...flagged.values()].filter((f) => f.verify_result === 'ok')).toHaveLength(4);

    const repaired = await run(['verify', '--batch', batchId, '--repair', '--json']);
    expect(repaired.code, repaired.stderr).toBe(0);
    const report = JSON.parse(repaired.stdout) as VerifyReport;
    expect(report.summary).toMatchObject({ files: 5, ok: 4, mac_mismatch: 1 });
    expect(report.repair?.batch_ids).toHaveLength(1);
    expect(report.repair?.files.map((f) => [f.remote_key, f.result])).toEqual([['v/wrong-mac.bin', 'ok']]);
    expect(report.ok).toBe(true);

    // Replaced in place: one node at the path, a new one, the old one in the Rubbish Bin; the
    // other files untouched.
    const after = await files();
    const newHandle = after.get('v/wrong-mac.bin')?.mega_handle;
    expect(newHandle).toBeTruthy();
    expect(newHandle).not.toBe(oldHandle);
    expect(after.get('v/wrong-mac.bin')).toMatchObject({ status: 'done', verify_result: 'ok' });
    expect((await listPath(mega, '/Checked/v/wrong-mac.bin')).map((n) => n.handle)).toEqual([newHandle]);
    expect(
      (await listPath(mega, '/Checked/v/wrong-mac.bin', { trash: true })).map((n) => n.handle),
    ).toContain(oldHandle);
    for (const key of Object.keys(SIZES)) {
      if (key !== 'v/wrong-mac.bin')
        expect(after.get(key)?.mega_handle, key).toBe(before.get(key)?.mega_handle);
    }
    expect(await downloadSha256(mega, '/Checked/v/wrong-mac.bin')).toEqual({
      sha256: shas.get('v/wrong-mac.bin'),
      size: SIZES['v/wrong-mac.bin'],
    });
    const again = await run(['verify']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim().split('\n').at(-1)).toBe('verified 5 files: 5 ok');
  }, 180_000);

  it('finds a copy whose bytes differ from the source (bytes_mismatch), and checks a random sample', async () => {
    const key = 'v/odd.bin';
    await s3.put(BUCKET, key, testBytes(SIZES[key] as number, 99)); // the source changed since
    const r = await run(['verify', '--json']);
    expect(r.code, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as VerifyReport;
    expect(report.files.filter((f) => f.result !== 'ok').map((f) => [f.remote_key, f.result])).toEqual([
      [key, 'bytes_mismatch'],
    ]);
    expect((await files()).get(key)?.verify_result).toBe('bytes_mismatch');
    await s3.put(BUCKET, key, testBytes(SIZES[key] as number, 3)); // as it was

    const sampled = await run(['verify', '--sample', '2', '--json']);
    expect(sampled.code, sampled.stderr).toBe(0);
    expect((JSON.parse(sampled.stdout) as VerifyReport).summary).toMatchObject({ files: 2, ok: 2 });
  });

  it('finds a copy gone from MEGA (missing); --repair sends it again', async () => {
    const key = 'v/boundary.bin';
    const handle = (await files()).get(key)?.mega_handle as string;
    for (const user of mega.state.users.values()) {
      const at = user.files.findIndex((f) => f.h === handle);
      if (at >= 0) user.files.splice(at, 1); // deleted behind MegaFerry's back
    }
    const found = await run(['verify', '--batch', batchId]);
    expect(found.code, found.stderr).toBe(1);
    expect(found.stdout).toMatch(
      /^missing +verify-bucket\/v\/boundary\.bin → \/Checked\/v\/boundary\.bin — /m,
    );
    expect(found.stdout.trim().split('\n').at(-1)).toBe('verified 5 files: 4 ok, 1 missing');
    expect((await files()).get(key)?.verify_result).toBe('missing');

    const repaired = await run(['verify', '--batch', batchId, '--repair']);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(repaired.stdout).toMatch(/^repairing 1 file \(batch_[a-z0-9]+\), then checking them again:$/m);
    expect(repaired.stdout.trim().split('\n').at(-1)).toBe('after repair: 1 file: 1 ok');
    const doc = (await files()).get(key);
    expect(doc).toMatchObject({ status: 'done', verify_result: 'ok' });
    expect(doc?.mega_handle).not.toBe(handle);
    expect(await downloadSha256(mega, '/Checked/v/boundary.bin')).toEqual({
      sha256: shas.get(key),
      size: SIZES[key],
    });
  });

  it.each([
    ['an unknown batch', ['verify', '--batch', 'batch_000000000000'], /unknown batch/],
    ['--batch and --all', ['verify', '--batch', 'batch_x', '--all'], /not both/],
    ['--sample 0', ['verify', '--sample', '0'], /--sample/],
  ])('exits 2 on bad input: %s', async (_name, args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
