/**
 * Control of the queue in the UI (issue 12: pause, order, quota), in Debian's Chromium against the
 * headless host (in this process, one transfer at a time so the queue's order shows) and the real
 * peers: pause and resume one file, a batch, and everything; move a batch to the front; small files
 * first from Browse; and MEGA over its quota shown as a banner with the next try, then gone.
 * Screenshots go to test-results/ui/queue-*.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { configFromEnv } from '../src/main/service/config';
import { FerryService } from '../src/main/service/ferry-service';
import { startHost, type RunningHost } from '../src/main/host/server';
import { startS3Peer, type S3Peer } from '../test/peers/s3';
import { startMegaPeer, type MegaPeer } from '../test/peers/mega';
import { ferryEnv } from '../test/peers/env';
import { launchChromium } from '../test/peers/chromium';
import { KiB, MiB, testBytes, waitFor } from '../test/peers/fixtures';
import type { BatchStatus } from '../src/shared/contract';

const UI_DIR = resolve(__dirname, '..', 'out', 'renderer');
const SHOTS = resolve(__dirname, '..', 'test-results', 'ui');
const BUCKET = 'queue';

let s3: S3Peer;
let mega: MegaPeer;
let work: string;
let service: FerryService;
let host: RunningHost;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(join(UI_DIR, 'index.html'))) throw new Error('the renderer is not built: npm run prepare');
  [s3, mega] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer()]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-queue-ui-'));
  for (let i = 0; i < 3; i++) await s3.put(BUCKET, `a/${i}.bin`, testBytes(2 * MiB + i, 10 + i));
  for (let i = 0; i < 2; i++) await s3.put(BUCKET, `b/${i}.bin`, testBytes(64 * KiB + i, 20 + i));
  const sizes = [600 * KiB, 2 * KiB, 90 * KiB];
  for (const [i, size] of sizes.entries()) await s3.put(BUCKET, `small/${i}.bin`, testBytes(size, 30 + i));
  await s3.put(BUCKET, 'quota/q.bin', testBytes(10 * KiB, 40));
  const config = configFromEnv({
    ...ferryEnv({ s3, mega }, join(work, 'data')),
    MEGAFERRY_MAX_ACTIVE: '1',
    MEGAFERRY_CONNECTIONS_PER_FILE: '1',
    MEGAFERRY_QUOTA_RETRY_MS: '1500',
  });
  service = await FerryService.open(config, { resume: true, kind: 'serve' });
  host = await startHost(service, { host: '127.0.0.1', port: 0, uiDir: UI_DIR });
  browser = await launchChromium();
  await mkdir(SHOTS, { recursive: true });
}, 300_000);

afterAll(async () => {
  mega?.setCommandAnswer('u', null);
  await browser?.close();
  await host?.close();
  await service?.close();
  await Promise.all([s3?.stop(), mega?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

const nav = (page: Page, name: string) =>
  page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name, exact: true });

const card = (page: Page, id: string) => page.getByRole('listitem', { name: `Batch ${id}` });

async function statusOf(id: string): Promise<BatchStatus> {
  return service.getBatch(id);
}

/** The keys of a batch in the order they ended (their documents' status time). */
async function endOrder(prefix: string): Promise<string[]> {
  const { files } = await service.listFiles({ q: prefix, limit: 100 });
  return files
    .filter((f) => f.status === 'done')
    .sort((a, b) => a.status_updated_at.localeCompare(b.status_updated_at))
    .map((f) => f.remote_key);
}

describe('pause, order and quota in the UI', () => {
  it('pauses and resumes a file, a batch and everything; moves a batch to the front; sends small files first; shows a quota hold', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    await page.goto(host.uiUrl);
    await page.getByRole('heading', { name: 'Browse', level: 1 }).waitFor();

    // Two batches on a slow link, one transfer at a time: A first, B waits behind it.
    mega.setChunkDelay(400);
    const a = await service.startBatch({ bucket: BUCKET, prefix: 'a/', target: '/Q', max_concurrent: 1 });
    const b = await service.startBatch({ bucket: BUCKET, prefix: 'b/', target: '/Q', max_concurrent: 1 });
    await nav(page, 'Transfers').click();
    await card(page, b.batch_id).waitFor();

    // Move to front: B's files go next, before the rest of A.
    await card(page, b.batch_id).getByRole('button', { name: 'Move to front' }).click();
    await waitFor('B moving', async () => (await statusOf(b.batch_id)).transferring > 0, 30_000, 100);
    expect((await statusOf(a.batch_id)).pending).toBeGreaterThan(0);

    // Pause one file of A from its row, then the whole batch A; resume them.
    const cardA = card(page, a.batch_id);
    const toggle = cardA.locator('.batch__toggle');
    if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
    await cardA.getByRole('button', { name: 'Pause a/2.bin' }).click();
    await cardA.getByRole('button', { name: 'Resume a/2.bin' }).waitFor();
    expect((await statusOf(a.batch_id)).files.find((f) => f.code === 'a/2.bin')?.status).toBe('paused');
    await page.screenshot({ path: join(SHOTS, 'queue-file-paused.png') });
    await cardA.getByRole('button', { name: 'Resume a/2.bin' }).click();
    await cardA.getByRole('button', { name: 'Pause a/2.bin' }).waitFor();
    await cardA.getByRole('button', { name: 'Pause', exact: true }).click();
    await cardA.getByRole('button', { name: 'Resume', exact: true }).waitFor();
    await waitFor('A held', async () => (await statusOf(a.batch_id)).transferring === 0, 10_000, 100);

    // Pause all, then resume all: everything holds, then everything ends.
    await page.getByRole('button', { name: 'Pause all' }).click();
    await waitFor(
      'nothing moving',
      async () => {
        const all = [await statusOf(a.batch_id), await statusOf(b.batch_id)];
        return all.flatMap((s) => s.files).every((f) => f.status === 'paused' || f.status === 'done');
      },
      10_000,
      100,
    );
    await page.screenshot({ path: join(SHOTS, 'queue-paused-all.png') });
    mega.setChunkDelay(0);
    await page.getByRole('button', { name: 'Resume all' }).click();
    for (const id of [a.batch_id, b.batch_id]) {
      await card(page, id).getByText('Completed', { exact: true }).waitFor({ timeout: 60_000 });
    }
    const order = await endOrder('/Q/');
    expect(order.indexOf('b/1.bin')).toBeLessThan(order.indexOf('a/2.bin'));

    // Small files first, from Browse.
    await nav(page, 'Browse').click();
    const picker = page.getByRole('combobox', { name: 'Bucket' });
    if ((await picker.inputValue()) !== BUCKET) await picker.selectOption(BUCKET);
    await page.getByRole('button', { name: 'Open folder small' }).click();
    for (const i of [0, 1, 2])
      await page.getByRole('checkbox', { name: `small/${i}.bin`, exact: true }).click();
    await page.getByRole('textbox', { name: 'MEGA folder' }).fill('/Small');
    await page.getByRole('checkbox', { name: 'Small files first' }).check();
    await page.getByRole('button', { name: 'Start transfer' }).click();
    await page.getByRole('heading', { name: 'Transfers', level: 1 }).waitFor();
    await waitFor('the small files done', async () => (await endOrder('/Small/')).length === 3, 60_000, 200);
    expect(await endOrder('/Small/')).toEqual(['small/1.bin', 'small/2.bin', 'small/0.bin']);

    // MEGA over its quota: a banner says why and when it is tried again; it goes when MEGA takes data.
    mega.setCommandAnswer('u', -17);
    const q = await service.startBatch({ bucket: BUCKET, prefix: 'quota/', target: '/Quota' });
    const banner = page.getByRole('status').filter({ hasText: 'MEGA takes no more data.' });
    await banner.waitFor({ timeout: 30_000 });
    expect(await banner.innerText()).toMatch(/refused more data .*next try/);
    await page.screenshot({ path: join(SHOTS, 'queue-quota-hold.png') });
    expect((await statusOf(q.batch_id)).failed).toBe(0);
    mega.setCommandAnswer('u', null);
    await card(page, q.batch_id).getByText('Completed', { exact: true }).waitFor({ timeout: 60_000 });
    await banner.waitFor({ state: 'detached', timeout: 10_000 });
    expect(problems).toEqual([]);
    await page.close();
  }, 240_000);
});
