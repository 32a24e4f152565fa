/**
 * src/main/platform/sqlite-driver.ts: the same contract (test/peers/sqlite-contract.ts) held by
 * better-sqlite3 and by node:sqlite wherever each exists: in this process (better-sqlite3 is
 * compiled for the Node that ran `npm ci`; node:sqlite where this Node has it) and in child
 * processes of Node 22, 24 and 26 fetched from the registry, on a script built by esbuild. A
 * database written by one engine is read by the other (the desktop app and the CLI share one file).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import {
  chooseSqliteDriver,
  nodeSqliteModule,
  openSqlite,
  sqliteCodeName,
} from '../src/main/platform/sqlite-driver';
import { runSqliteContract, SQLITE_CONTRACT_SIZE } from './peers/sqlite-contract';
import { NODE_LTS_LINES, nodeLine } from './peers/node-lines';

let work: string;
let script: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'megaferry-sqlite-'));
  script = join(work, 'contract.mjs');
  // The child runs the contract for the engine it is given, then says which engine it would
  // choose by itself and how better-sqlite3 (compiled for another Node's ABI, or not) fares.
  await build({
    stdin: {
      contents: `
        import { runSqliteContract } from './test/peers/sqlite-contract';
        import { chooseSqliteDriver, openSqlite } from './src/main/platform/sqlite-driver';
        const [driver, dir] = process.argv.slice(2);
        const checked = runSqliteContract(driver, dir);
        let better;
        try { openSqlite(':memory:', { timeout: 0, driver: 'better-sqlite3' }).close(); better = 'loads'; }
        catch (err) { better = err.message; }
        console.log(JSON.stringify({ version: process.version, checked, chosen: chooseSqliteDriver(), better }));
      `,
      resolveDir: resolve(__dirname, '..'),
      sourcefile: 'contract-main.ts',
      loader: 'ts',
    },
    outfile: script,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    // better-sqlite3 is loaded at run time from the repository's node_modules (NODE_PATH below).
    external: ['better-sqlite3'],
    logLevel: 'warning',
  });
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function runChild(bin: string, driver: string, dir: string) {
  return new Promise<{ version: string; checked: string[]; chosen: string; better: string }>((res, rej) => {
    execFile(
      bin,
      [script, driver, dir],
      {
        timeout: 150_000,
        env: { PATH: process.env.PATH, NODE_PATH: resolve(__dirname, '..', 'node_modules') },
      },
      (err, stdout, stderr) => {
        if (err) return rej(new Error(`${err.message}\n${stderr}`));
        try {
          res(JSON.parse(stdout.trim().split('\n').pop() ?? ''));
        } catch {
          rej(new Error(`unexpected output: ${stdout}\n${stderr}`));
        }
      },
    );
  });
}

describe('better-sqlite3 in this process', () => {
  it(`holds the contract on Node ${process.versions.node}`, () => {
    expect(runSqliteContract('better-sqlite3', work)).toHaveLength(SQLITE_CONTRACT_SIZE);
  });
});

describe.skipIf(!nodeSqliteModule())('node:sqlite in this process', () => {
  it(`holds the contract on Node ${process.versions.node}`, () => {
    expect(runSqliteContract('node:sqlite', work)).toHaveLength(SQLITE_CONTRACT_SIZE);
  });
});

describe.each(NODE_LTS_LINES.map((line) => [line]))('node:sqlite on Node %i (registry)', (line) => {
  it('holds the contract, is the engine chosen by default, and shares its file with better-sqlite3', async (ctx) => {
    const node = await nodeLine(line);
    if ('unavailable' in node) {
      console.warn(`skipped: ${node.unavailable}`);
      ctx.skip();
      return;
    }
    const dir = await mkdtemp(join(work, `node${line}-`));
    const r = await runChild(node.bin, 'node:sqlite', dir);
    expect(r.version).toBe(node.version);
    expect(r.checked).toHaveLength(SQLITE_CONTRACT_SIZE);
    expect(r.chosen).toBe('node:sqlite');
    // better-sqlite3 loads only on the Node whose ABI it was compiled for: say so, plainly.
    if (r.better !== 'loads')
      expect(r.better).toMatch(/cannot load better-sqlite3 \(this Node has node:sqlite/);

    // The file node:sqlite left is read and written by better-sqlite3 here, and read back there.
    const file = join(dir, 'contract-node-sqlite.sqlite');
    const db = openSqlite(file, { timeout: 1000, driver: 'better-sqlite3' });
    try {
      expect(db.pragma('journal_mode')).toEqual([{ journal_mode: 'wal' }]);
      expect(db.prepare("SELECT key FROM files WHERE bucket = 'nest' ORDER BY key").all()).toEqual([
        { key: 'inner-kept' },
        { key: 'kept' },
      ]);
      db.transaction(() => db.exec("DELETE FROM files WHERE bucket = 'tx'")).immediate();
    } finally {
      db.close();
    }
  }, 180_000);
});

describe('choosing the engine', () => {
  const runtime = (electron: boolean, hasNodeSqlite: boolean) => ({
    electron,
    hasNodeSqlite: () => hasNodeSqlite,
  });

  it('takes node:sqlite where Node has it, better-sqlite3 in Electron and on Node 20', () => {
    expect(chooseSqliteDriver({}, runtime(false, true))).toBe('node:sqlite');
    expect(chooseSqliteDriver({}, runtime(false, false))).toBe('better-sqlite3');
    expect(chooseSqliteDriver({}, runtime(true, true))).toBe('better-sqlite3');
    expect(
      chooseSqliteDriver({}, { electron: false, hasNodeSqlite: () => nodeSqliteModule() !== null }),
    ).toBe(nodeSqliteModule() ? 'node:sqlite' : 'better-sqlite3');
  });

  it('follows MEGAFERRY_SQLITE_DRIVER, and refuses an unknown engine by name', () => {
    expect(chooseSqliteDriver({ MEGAFERRY_SQLITE_DRIVER: 'better-sqlite3' }, runtime(false, true))).toBe(
      'better-sqlite3',
    );
    expect(chooseSqliteDriver({ MEGAFERRY_SQLITE_DRIVER: 'node:sqlite' }, runtime(true, true))).toBe(
      'node:sqlite',
    );
    expect(() => chooseSqliteDriver({ MEGAFERRY_SQLITE_DRIVER: 'sqlite3' }, runtime(false, true))).toThrow(
      'MEGAFERRY_SQLITE_DRIVER must be node:sqlite or better-sqlite3 (got "sqlite3")',
    );
  });

  it.skipIf(nodeSqliteModule())('says what to do where node:sqlite is asked for and absent', () => {
    expect(() => openSqlite(join(work, 'x.sqlite'), { timeout: 0, driver: 'node:sqlite' })).toThrow(
      /has no node:sqlite: use Node 22\.13 or newer/,
    );
  });

  it('names SQLite result codes as better-sqlite3 does', () => {
    expect(sqliteCodeName(5)).toBe('SQLITE_BUSY');
    expect(sqliteCodeName(1555)).toBe('SQLITE_CONSTRAINT_PRIMARYKEY');
    expect(sqliteCodeName(2067)).toBe('SQLITE_CONSTRAINT_UNIQUE');
    expect(sqliteCodeName(10 | (1 << 8))).toBe('SQLITE_IOERR');
    expect(sqliteCodeName(999_999)).toBe('SQLITE_UNKNOWN_999999');
  });
});
