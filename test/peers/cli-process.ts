/**
 * The built `megaferry` bin as real OS processes, as users run them: started with an environment,
 * their output collected, their end awaited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { waitFor } from './fixtures';

export const BIN = resolve(__dirname, '..', '..', 'bin', 'megaferry.mjs');

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Proc {
  child: ChildProcess;
  done: Promise<Run>;
  out(): { stdout: string; stderr: string };
}

export function start(args: string[], env: NodeJS.ProcessEnv): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((r) =>
    child.on('close', (code, signal) => r({ code, signal, stdout, stderr })),
  );
  return { child, done, out: () => ({ stdout, stderr }) };
}

export async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return start(args, env).done;
}

/** `megaferry serve` on a free port with `token`; resolves its base URL. */
export async function serveProcess(
  env: NodeJS.ProcessEnv,
  token: string,
): Promise<{ proc: Proc; url: string }> {
  const proc = start(['serve'], { ...env, MEGAFERRY_PORT: '0', MEGAFERRY_TOKEN: token });
  const url = await waitFor(
    'serve to listen',
    () => /listening on (http:\/\/\S+)/.exec(proc.out().stdout)?.[1],
    30_000,
  );
  return { proc, url };
}

/** One REST call with the token; a GET whose pooled connection the busy host closed is asked again. */
export async function apiCall<T>(
  url: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(url + path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as T };
    } catch (err) {
      if (method !== 'GET' || attempt >= 3) throw err;
    }
  }
}
