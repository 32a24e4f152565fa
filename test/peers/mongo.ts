/**
 * The MongoDB test peer. With MONGODB_URI set, a real server is used and each call gets its own
 * database (dropped by stop()). Otherwise a jongodb process (a MongoDB wire-protocol server, in
 * memory) is started on 127.0.0.1 and a random port, and stop() ends it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MongoClient, MongoServerError } from 'mongodb';

export interface MongoPeer {
  /** Connection string whose path names a database of its own. */
  uri: string;
  dbName: string;
  stop(): Promise<void>;
}

/** Where npm put the jongodb binary (resolved like any package, wherever this file runs from). */
const JONGODB_BIN = ((): string => {
  const pkg = '@jongodb/memory-server-bin-linux-x64-gnu';
  try {
    return join(dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`)), 'bin', 'jongodb');
  } catch {
    return `node_modules/${pkg}/bin/jongodb`;
  }
})();
const START_TIMEOUT_MS = 30_000;
const COMMAND_NOT_FOUND = 59;

/** The same connection string with its path set to `/dbName` (query string kept). */
export function withDatabase(uri: string, dbName: string): string {
  const m = /^(mongodb(?:\+srv)?:\/\/[^/?]*)(?:\/[^?]*)?(\?.*)?$/s.exec(uri.trim());
  if (!m) throw new Error('MONGODB_URI must start with "mongodb://" or "mongodb+srv://"');
  return `${m[1]}/${dbName}${m[2] ?? ''}`;
}

/**
 * Drops test databases on the server of `uri`. A server without dropDatabase (jongodb, which is
 * in memory and forgets everything when it stops) is left as it is.
 */
export async function dropDatabases(uri: string, dbNames: string[]): Promise<void> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
  try {
    for (const name of dbNames) {
      try {
        await client.db(name).dropDatabase();
      } catch (err) {
        if (err instanceof MongoServerError && err.code === COMMAND_NOT_FOUND) return;
        throw err;
      }
    }
  } finally {
    await client.close();
  }
}

export async function startMongo(): Promise<MongoPeer> {
  const dbName = `megaferry_test_${randomBytes(6).toString('hex')}`;
  const external = process.env.MONGODB_URI?.trim();
  if (external) {
    const uri = withDatabase(external, dbName);
    return {
      uri,
      dbName,
      stop: () => dropDatabases(uri, [dbName]),
    };
  }
  const base = await spawnJongodb();
  return { uri: withDatabase(base.uri, dbName), dbName, stop: base.stop };
}

async function spawnJongodb(): Promise<{ uri: string; stop(): Promise<void> }> {
  if (!existsSync(JONGODB_BIN)) {
    throw new Error(
      `jongodb is not installed (${JONGODB_BIN} is missing): install the optional dependency ` +
        '@jongodb/memory-server-bin-linux-x64-gnu (linux-x64 only) or set MONGODB_URI to a MongoDB server',
    );
  }
  const child = spawn(JONGODB_BIN, ['--host=127.0.0.1', '--port=0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-2000);
  });
  try {
    const uri = await waitForUri(child, () => stderr);
    return {
      uri,
      async stop() {
        process.removeListener('exit', killOnExit);
        await stopChild(child);
      },
    };
  } catch (err) {
    process.removeListener('exit', killOnExit);
    await stopChild(child);
    throw err;
  }
}

function waitForUri(child: ChildProcess, stderr: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(
      () =>
        fail(
          new Error(
            `jongodb did not print JONGODB_URI within ${START_TIMEOUT_MS / 1000}s; stderr: ${stderr()}`,
          ),
        ),
      START_TIMEOUT_MS,
    );
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      fail(
        new Error(`jongodb exited before it was ready (code ${code}, signal ${signal}); stderr: ${stderr()}`),
      );
    const onError = (err: Error): void => fail(new Error(`jongodb could not be started: ${err.message}`));
    function cleanup(): void {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('error', onError);
    }
    function fail(err: Error): void {
      cleanup();
      lines.close();
      reject(err);
    }
    child.once('exit', onExit);
    child.once('error', onError);
    lines.on('line', (line) => {
      const m = /^JONGODB_URI=(\S+)/.exec(line.trim());
      if (m?.[1]) {
        cleanup();
        // Keep draining stdout so the server never blocks on a full pipe.
        resolve(m[1]);
      }
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
