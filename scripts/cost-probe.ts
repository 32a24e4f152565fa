/**
 * `npm run bench:parts`: where a transfer's CPU goes. Each part of the S3 → MEGA path alone, in a
 * process of its own, over the same object: CPU-seconds (user, system), minor page faults and peak
 * RSS of that part's own work, per GiB.
 *
 *   npm run bench:parts -- [MiB] [rounds] [mode,mode@NAME=VALUE,…]
 *
 * Modes: `floor` (the crypto floor, as the bench), `crypto` (the uploader's crypto over 64 KiB
 * pieces that cost nothing to make), `get-onread` (the object over a raw socket read into one
 * reused buffer: the kernel's share of receiving), `get-http` (node:http, no SDK), `s3` (the S3
 * source), `post-http` (1 MiB POSTs of one buffer, four at once, to a sink: sending), `post-http1`
 * (the same POSTs through the uploader's HTTP/1.1 client, platform/http1.ts), `ferry` (the
 * MEGA destination fed by the S3 source, after login), `cli` / `cli-before` (a whole `megaferry
 * transfer` of the object, start-up included, through /usr/bin/time; `cli-before` runs
 * out/cli-before, a copy of an earlier build). `@NAME=VALUE` adds an environment variable to that
 * mode's process, e.g. `cli@MALLOC_TOP_PAD_=131072` (any MALLOC_ variable turns glibc's dynamic
 * thresholds off: the process as it was before platform/malloc-thresholds.ts).
 */
import { spawn } from 'node:child_process';
import { createCipheriv, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { S3Source } from '../src/main/engine/sources/s3';
import { MegaDestination } from '../src/main/engine/destinations/mega';
import { UploadEncryptor } from '../src/main/engine/destinations/mega-crypto';
import { raiseMallocThresholds } from '../src/main/platform/malloc-thresholds';
import { Http1Client } from '../src/main/platform/http1';
import { startS3Peer } from '../test/peers/s3';
import { startMegaPeer } from '../test/peers/mega';
import { repeatingStream } from '../test/peers/fixtures';

const MiB = 1024 * 1024;
const BUCKET = 'probe';

function usage() {
  const u = process.resourceUsage();
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return {
    cpu: (u.userCPUTime + u.systemCPUTime) / 1e6,
    user: u.userCPUTime / 1e6,
    sys: u.systemCPUTime / 1e6,
    faults: u.minorPageFault,
    hwm: Number(hwm?.[1] ?? 0) / 1024,
  };
}

function drain(body: Readable, onPiece: (b: Buffer) => void = () => undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    body.on('data', (b: Buffer) => {
      n += b.length;
      onPiece(b);
    });
    body.on('end', () => resolve(n));
    body.on('error', reject);
  });
}

async function child(mode: string, size: number): Promise<void> {
  const s3 = () =>
    new S3Source({
      endpoint: process.env.AWS_ENDPOINT_URL_S3,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
  const signal = new AbortController().signal;
  // `crypto`, `get-onread`, `get-http` and `post-http` raise glibc's thresholds only when asked
  // (PROBE_RAISE=1): they show Node as it is; the S3 source, the uploader and the floor raise them.
  if (process.env.PROBE_RAISE) raiseMallocThresholds();
  const before = usage();
  let extra: Record<string, number> = {};
  if (mode === 'floor') {
    raiseMallocThresholds(); // as the bench's floor
    const key = randomBytes(16);
    const nonce = randomBytes(8);
    const block = randomBytes(MiB);
    const ctr = createCipheriv('aes-128-ctr', key, Buffer.concat([nonce, Buffer.alloc(8)]));
    for (let done = 0; done < size; done += MiB) {
      const mac = createCipheriv('aes-128-cbc', key, Buffer.concat([nonce, nonce]));
      mac.setAutoPadding(false);
      mac.update(block);
      ctr.update(block);
    }
  } else if (mode === 'crypto') {
    // The upload's crypto over 64 KiB pieces that cost nothing to make.
    const enc = new UploadEncryptor(randomBytes(16), randomBytes(8), 0);
    const out = Buffer.allocUnsafeSlow(MiB);
    let filled = 0;
    await drain(repeatingStream(randomBytes(64 * 1024), size), (piece) => {
      enc.update(piece, out, filled);
      filled += piece.length;
      if (filled === MiB) {
        enc.endChunk();
        filled = 0;
      }
    });
  } else if (mode === 'get-onread' || mode === 'get-http') {
    // The same bytes with no SDK: a plain HTTP GET (s3rver takes unsigned requests).
    const url = new URL(`${process.env.AWS_ENDPOINT_URL_S3}/${BUCKET}/big.bin`);
    const t = process.hrtime.bigint();
    if (mode === 'get-http') {
      await new Promise<void>((resolve, reject) =>
        http.get(url, (res) => void drain(res).then(() => resolve(), reject)).on('error', reject),
      );
    } else {
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect({
          host: url.hostname,
          port: Number(url.port),
          onread: { buffer: Buffer.allocUnsafeSlow(256 * 1024), callback: () => true },
        });
        socket.on('connect', () =>
          socket.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`),
        );
        socket.on('end', () => resolve());
        socket.on('error', reject);
      });
    }
    extra.seconds = Number(process.hrtime.bigint() - t) / 1e9;
  } else if (mode === 'post-http') {
    // 1 MiB POSTs of one reused buffer, four at once, to a sink that discards them.
    const agent = new http.Agent({ keepAlive: true });
    const block = randomBytes(MiB);
    let next = 0;
    const t = process.hrtime.bigint();
    const lane = async () => {
      while (next < size) {
        next += MiB;
        await new Promise<void>((resolve, reject) => {
          const req = http.request(
            process.env.PROBE_SINK ?? '',
            { method: 'POST', agent, headers: { 'content-length': String(MiB) } },
            (res) => {
              res.resume();
              res.on('end', () => resolve());
            },
          );
          req.on('error', reject);
          req.end(block);
        });
      }
    };
    await Promise.all([lane(), lane(), lane(), lane()]);
    extra.seconds = Number(process.hrtime.bigint() - t) / 1e9;
    agent.destroy();
  } else if (mode === 'post-http1') {
    // The same POSTs through the uploader's client (platform/http1.ts): head and body in one write.
    const client = new Http1Client({ pieceBytes: 64 * 1024, silentMs: 120_000 });
    const sink = new URL(process.env.PROBE_SINK ?? '');
    const target = { secure: false, host: sink.hostname, port: Number(sink.port) };
    const head = Buffer.from(`POST / HTTP/1.1\r\nhost: ${sink.host}\r\ncontent-length: ${MiB}\r\n\r\n`);
    const block = randomBytes(MiB);
    let next = 0;
    const t = process.hrtime.bigint();
    const lane = async () => {
      while (next < size) {
        next += MiB;
        await client.collect(target, head, block);
      }
    };
    await Promise.all([lane(), lane(), lane(), lane()]);
    extra.seconds = Number(process.hrtime.bigint() - t) / 1e9;
    client.destroy();
  } else if (mode === 's3') {
    const source = s3();
    const t = process.hrtime.bigint();
    await drain(await source.read(BUCKET, 'big.bin', { signal }));
    extra.seconds = Number(process.hrtime.bigint() - t) / 1e9;
    source.close();
  } else if (mode === 'ferry') {
    const source = s3();
    const destination = new MegaDestination({
      email: process.env.MEGA_EMAIL ?? '',
      password: process.env.MEGA_PASSWORD ?? '',
      gateway: process.env.MEGAFERRY_MEGA_GATEWAY,
    });
    await destination.connect();
    const t = process.hrtime.bigint();
    const mid = usage();
    await destination.upload({
      path: `/probe/${randomUUID()}`,
      size,
      body: await source.read(BUCKET, 'big.bin', { signal }),
      transfer_id: randomUUID(),
      signal,
      onProgress: () => undefined,
    });
    extra = { seconds: Number(process.hrtime.bigint() - t) / 1e9, login_cpu: mid.cpu - before.cpu };
    await destination.close();
    source.close();
  }
  const after = usage();
  process.stdout.write(
    JSON.stringify({
      cpu: after.cpu - before.cpu,
      user: after.user - before.user,
      sys: after.sys - before.sys,
      faults: after.faults - before.faults,
      hwm: after.hwm,
      ...extra,
    }) + '\n',
  );
}

async function run(spec: string, size: number, baseEnv: Record<string, string>, nodeArgs: string[]) {
  // `mode@NAME=VALUE`: the mode with one more environment variable (an A/B of a setting).
  const [mode = '', setting] = spec.split('@');
  const env = { ...baseEnv };
  if (setting) env[setting.split('=')[0] ?? ''] = setting.split('=').slice(1).join('=');
  if (mode.startsWith('cli')) {
    // The whole CLI process (start-up included), through /usr/bin/time: user, sys, faults, max RSS.
    const cli = mode === 'cli-before' ? 'out/cli-before/megaferry.mjs' : 'bin/megaferry.mjs';
    const dataDir = `/tmp/probe-data-${randomUUID()}`;
    const args = ['-f', '%U %S %R %M %e', process.execPath, ...nodeArgs, cli, 'transfer'];
    args.push('--bucket', BUCKET, '--key', 'big.bin', '--target', `/cli-${randomUUID()}`);
    const c = spawn('/usr/bin/time', args, {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, MEGAFERRY_DATA_DIR: dataDir },
      stdio: ['ignore', process.env.PROBE_CLI_STDOUT ? 'inherit' : 'ignore', 'pipe'],
    });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise((r) => c.on('exit', r));
    const last = err.trim().split('\n').pop() ?? '';
    if (code !== 0) throw new Error(`${mode} exited ${String(code)}: ${err.slice(-500)}`);
    const [user, sys, faults, maxKiB, secs] = last.split(' ').map(Number);
    return {
      cpu: (user ?? 0) + (sys ?? 0),
      user: user ?? 0,
      sys: sys ?? 0,
      faults: faults ?? 0,
      hwm: (maxKiB ?? 0) / 1024,
      seconds: secs ?? 0,
    };
  }
  const c = spawn(process.execPath, [...nodeArgs, process.argv[1] ?? '', '--child', mode, String(size)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  c.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise((r) => c.on('exit', r));
  if (code !== 0) throw new Error(`${mode} exited ${String(code)}`);
  return JSON.parse(out) as Record<string, number>;
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--child');
  if (at > 0) {
    await child(process.argv[at + 1] ?? '', Number(process.argv[at + 2]));
    process.exit(0);
  }
  const [mibArg, roundsArg, modesArg] = process.argv.slice(2);
  const size = Number(mibArg ?? 1024) * MiB;
  const rounds = Number(roundsArg ?? 3);
  const modes = (modesArg ?? 'floor,crypto,s3,ferry').split(',');
  const nodeArgs = (process.env.PROBE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const [s3, mega] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer()]);
  try {
    await s3.put(BUCKET, 'big.bin', repeatingStream(randomBytes(MiB), size), size);
    const sink = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end(''));
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const env = {
      PROBE_SINK: `http://127.0.0.1:${(sink.address() as net.AddressInfo).port}/`,
      ...s3.env,
      MEGA_EMAIL: mega.email,
      MEGA_PASSWORD: mega.password,
      MEGAFERRY_MEGA_GATEWAY: mega.gateway,
    };
    for (let r = 0; r < rounds; r++) {
      for (const mode of modes) {
        const f = await run(mode, size, env, nodeArgs);
        const perGib = (x: number) => (x * 1024 * MiB) / size;
        console.log(
          `${mode.padEnd(14)} ${perGib(f.cpu ?? 0).toFixed(2)} CPU-s/GiB (user ${perGib(f.user ?? 0).toFixed(2)}, ` +
            `sys ${perGib(f.sys ?? 0).toFixed(2)}), ${Math.round(perGib(f.faults ?? 0))} faults/GiB, ` +
            `HWM ${Math.round(f.hwm ?? 0)} MiB` +
            (f.seconds ? `, ${(size / MiB / f.seconds).toFixed(1)} MiB/s` : '') +
            (f.login_cpu ? `, login ${f.login_cpu.toFixed(2)} s` : ''),
        );
      }
    }
    sink.closeAllConnections();
    sink.close();
  } finally {
    await Promise.all([s3.stop(), mega.stop()]);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
