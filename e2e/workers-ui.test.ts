/**
 * The UI with workers, in Debian's Chromium against `megaferry serve` on a MongoDB (jongodb, or
 * MONGODB_URI) with a real `megaferry worker` process: the Workers panel shows the worker and the
 * host, "Send to workers" hands a selection to them, the batch card says so, a file's row names
 * the worker moving it, the files land in MEGA byte for byte, and a stopped worker is shown gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startS3Peer, type S3Peer } from '../test/peers/s3';
import { downloadSha256, listPath, startMegaPeer, type MegaPeer } from '../test/peers/mega';
import { startMongo, type MongoPeer } from '../test/peers/mongo';
import { launchChromium } from '../test/peers/chromium';
import { ferryEnv } from '../test/peers/env';
import { serveProcess, start, type Proc } from '../test/peers/cli-process';
import { MiB, sha256, testBytes } from '../test/peers/fixtures';

const SHOTS = resolve(__dirname, '..', 'test-results', 'ui');
const TOKEN = 'workers-ui-token-0123456789abcdef';
const BUCKET = 'farm';
const BIG = testBytes(6 * MiB, 21);
const SMALL = testBytes(3000, 22);

let s3: S3Peer;
let mega: MegaPeer;
let mongo: MongoPeer;
let work: string;
let host: { proc: Proc; url: string };
let workerProc: Proc;
let browser: Browser;

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...ferryEnv({ s3, mega, mongo }, join(work, 'data')),
    ...extra,
  };
}

const nav = (page: Page, name: string) =>
  page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name });

beforeAll(async () => {
  [s3, mega, mongo] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer(), startMongo()]);
  await s3.put(BUCKET, 'reels/big.mov', BIG);
  await s3.put(BUCKET, 'reels/small.txt', SMALL);
  work = await mkdtemp(join(tmpdir(), 'megaferry-workers-ui-'));
  host = await serveProcess(env(), TOKEN);
  // One connection per file on a slow link: the big file moves for a few seconds.
  workerProc = start(['worker', '--name', 'ui-worker'], env({ MEGAFERRY_CONNECTIONS_PER_FILE: '1' }));
  browser = await launchChromium();
  await mkdir(SHOTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  for (const p of [workerProc, host?.proc]) {
    if (p && p.child.exitCode === null) {
      p.child.kill('SIGTERM');
      await p.done;
    }
  }
  await Promise.all([s3?.stop(), mega?.stop(), mongo?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the UI with workers on a shared MongoDB', () => {
  it('shows the workers, hands a selection to them, names the worker per file, and shows a stopped one gone', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    await page.goto(`${host.url}/#token=${TOKEN}`);
    await page.getByRole('heading', { name: 'Browse', level: 1 }).waitFor();

    // The Workers panel: the worker (idle) and this host.
    await nav(page, 'Workers').click();
    await page.getByRole('heading', { name: 'Workers', level: 1 }).waitFor();
    const table = page.getByRole('table', { name: 'Processes sharing the store' });
    const workerRow = table.getByRole('row').filter({ hasText: 'ui-worker' });
    await workerRow.getByText('Idle').waitFor({ timeout: 30_000 });
    expect(await workerRow.getByText('Worker', { exact: true }).count()).toBe(1);
    await table.getByRole('row').filter({ hasText: 'this app' }).getByText('Host').waitFor();
    expect(await page.getByText('uses the embedded store').count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'workers-panel.png') });

    // Browse: "Send to workers" beside Start.
    mega.setChunkDelay(300);
    await nav(page, 'Browse').click();
    const picker = page.getByRole('combobox', { name: 'Bucket' });
    if ((await picker.inputValue()) !== BUCKET) await picker.selectOption(BUCKET);
    await page.getByRole('button', { name: 'Open folder reels' }).click();
    await page.getByRole('checkbox', { name: 'reels/big.mov', exact: true }).click();
    await page.getByRole('checkbox', { name: 'reels/small.txt', exact: true }).click();
    await page.getByRole('textbox', { name: 'MEGA folder' }).fill('/Farm');
    await page.getByRole('button', { name: 'Send to workers' }).click();

    // Transfers: the batch is the workers', and the moving file names its worker.
    await page.getByRole('heading', { name: 'Transfers', level: 1 }).waitFor();
    const card = page.getByRole('listitem', { name: /^Batch batch_/ }).first();
    await card.getByText('for the workers').waitFor();
    const toggle = card.locator('.batch__toggle');
    if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
    await card.getByText('on ui-worker').first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(SHOTS, 'workers-file-row.png') });
    // While it moves, the panel shows the worker moving at a speed.
    await nav(page, 'Workers').click();
    await workerRow.getByText('Moving', { exact: true }).waitFor({ timeout: 15_000 });
    mega.setChunkDelay(0);
    await nav(page, 'Transfers').click();
    await card.getByText('Completed', { exact: true }).waitFor({ timeout: 60_000 });

    for (const [path, bytes] of [
      ['/Farm/reels/big.mov', BIG],
      ['/Farm/reels/small.txt', SMALL],
    ] as const) {
      expect(await listPath(mega, path)).toHaveLength(1);
      expect((await downloadSha256(mega, path)).sha256).toBe(sha256(bytes));
    }
    expect(workerProc.out().stderr).toMatch(/^done reels\/big\.mov$/m);

    // A stopped worker is shown gone.
    workerProc.child.kill('SIGTERM');
    await workerProc.done;
    await nav(page, 'Workers').click();
    await workerRow.getByText('Gone').waitFor({ timeout: 15_000 });
    expect(problems).toEqual([]);
    await page.close();
  }, 180_000);
});
