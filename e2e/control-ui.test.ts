/**
 * Control of transfers in the UI (issue 12), in Debian's Chromium against the headless host with
 * the real peers (s3rver, mega-mock, the embedded store): the preview of a selection before Start
 * (folders counted, already done, in progress elsewhere), the filters of the footer, the summary
 * on an ended batch's card, clearing finished batches (History keeps them), one bar and speed over
 * the running batches, and the bandwidth limit in Settings (the speed shown follows it).
 * Screenshots go to test-results/ui/control-*.png.
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
import { axeViolations, launchChromium } from '../test/peers/chromium';
import { MiB, testBytes, waitFor } from '../test/peers/fixtures';

const UI_DIR = resolve(__dirname, '..', 'out', 'renderer');
const SHOTS = resolve(__dirname, '..', 'test-results', 'ui');
const BUCKET = 'media';

let s3: S3Peer;
let mega: MegaPeer;
let work: string;
let service: FerryService;
let host: RunningHost;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(join(UI_DIR, 'index.html'))) throw new Error('the renderer is not built: npm run prepare');
  [s3, mega] = await Promise.all([startS3Peer([BUCKET]), startMegaPeer()]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-control-ui-'));
  await s3.put(BUCKET, 'pics/a.jpg', testBytes(MiB + 1, 1));
  await s3.put(BUCKET, 'pics/b.jpg', testBytes(2 * MiB, 2));
  await s3.put(BUCKET, 'pics/c.png', testBytes(5000, 3));
  await s3.put(BUCKET, 'pics/raw/d.jpg', testBytes(300, 4));
  // 16 s at the 1 MiB/s limit: still moving when the preview is looked at again (a loaded CI machine).
  await s3.put(BUCKET, 'slow/big.bin', testBytes(16 * MiB, 5));
  service = await FerryService.open(configFromEnv(ferryEnv({ s3, mega }, join(work, 'data'))), {
    resume: false,
  });
  host = await startHost(service, { host: '127.0.0.1', port: 0, uiDir: UI_DIR });
  browser = await launchChromium();
  await mkdir(SHOTS, { recursive: true });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await host?.close();
  await service?.close();
  await Promise.all([s3?.stop(), mega?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

async function openUi(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${String(e)}`));
  await page.goto(host.uiUrl);
  await page.getByRole('heading', { name: 'Browse', level: 1 }).waitFor();
  return { page, problems };
}

const nav = (page: Page, name: string) =>
  page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name, exact: true });

async function openBucket(page: Page): Promise<void> {
  const picker = page.getByRole('combobox', { name: 'Bucket' });
  if ((await picker.inputValue()) !== BUCKET) await picker.selectOption(BUCKET);
  await page.getByRole('grid', { name: 'Folder contents' }).waitFor();
}

const preview = (page: Page) => page.getByRole('status', { name: 'What the selection holds' });

describe('preview, filters, summary and clearing in the UI', () => {
  it('a ticked folder is counted before Start; filters narrow it; the ended card sums it up; Clear finished hides it', async () => {
    const { page, problems } = await openUi();
    await openBucket(page);
    await page.getByRole('checkbox', { name: 'pics/', exact: true }).click();
    // The folder is counted (not "all it holds"): four files, their size, nothing done yet.
    await expect.poll(() => preview(page).innerText(), { timeout: 15_000 }).toMatch(/4 files · 3\.01 MiB/);
    expect(await preview(page).innerText()).toMatch(
      /4 to transfer · 0 already done · 0 in progress elsewhere/,
    );

    await page.getByRole('button', { name: 'Filters', exact: true }).click();
    const filters = page.getByRole('group', { name: 'Filters for ticked folders' });
    await filters.getByLabel('Include').fill('*.jpg');
    await filters.getByLabel('Exclude').fill('pics/raw/**');
    await expect.poll(() => preview(page).innerText(), { timeout: 15_000 }).toMatch(/^2 files · 3\.00 MiB/);
    expect(await preview(page).innerText()).toMatch(/2 left out by the filters/);
    // A size the host would refuse is said beside its field, and Start waits.
    await filters.getByLabel('Min size').fill('huge');
    await filters.getByRole('alert').filter({ hasText: 'Enter a size such as 500K' }).waitFor();
    expect(await page.getByRole('button', { name: 'Start transfer' }).isDisabled()).toBe(true);
    await filters.getByLabel('Min size').fill('1K');
    expect(await page.getByRole('button', { name: 'Start transfer' }).isDisabled()).toBe(false);
    await page.getByRole('textbox', { name: 'MEGA folder' }).fill('/Pics');
    await expect
      .poll(() => preview(page).innerText(), { timeout: 15_000 })
      .toMatch(/2 to transfer · 0 already done/);
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'control-browse-preview.png') });
    await page.getByRole('button', { name: 'Start transfer' }).click();

    await page.getByRole('heading', { name: 'Transfers', level: 1 }).waitFor();
    const card = page.getByRole('listitem', { name: /^Batch batch_/ }).first();
    await expect.poll(() => card.innerText(), { timeout: 60_000 }).toMatch(/Completed/);
    const batchId = ((await card.getAttribute('aria-label')) ?? '').replace(/^Batch /, '');
    const status = await service.getBatch(batchId);
    expect(status.files.map((f) => f.remote_key).sort()).toEqual(['pics/a.jpg', 'pics/b.jpg']);
    const summary = page.getByRole('group', { name: `Summary of batch ${batchId}` });
    await expect
      .poll(() => summary.innerText(), { timeout: 15_000 })
      .toMatch(/2 done · 0 failed · 0 skipped · 3\.00 MiB in \d+ s · [\d.]+ MiB\/s on average/);
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'control-transfers-summary.png') });

    // The same folder again: the preview says both are done at that path already.
    await nav(page, 'Browse').click();
    await page.getByRole('checkbox', { name: 'pics/', exact: true }).click();
    await expect
      .poll(() => preview(page).innerText(), { timeout: 15_000 })
      .toMatch(/0 to transfer · 2 already done/);

    // Clear finished: the card leaves Transfers; History keeps its files.
    await nav(page, 'Transfers').click();
    await page.getByRole('button', { name: 'Clear finished' }).click();
    await page.getByText('1 finished batch hidden; its files stay in History.').waitFor();
    expect(await page.getByRole('listitem', { name: `Batch ${batchId}` }).count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'control-transfers-cleared.png') });
    await nav(page, 'History').click();
    await page.getByRole('heading', { name: 'History', level: 1 }).waitFor();
    await expect.poll(() => page.locator('main').innerText(), { timeout: 15_000 }).toMatch(/pics\/a\.jpg/);
    // It is the store's: the service says so, and another browser (no shared storage) hides it too.
    expect((await service.getBatch(batchId)).cleared).toBe(true);
    const elsewhere = await browser.newContext({ locale: 'en-US' });
    const other = await elsewhere.newPage();
    await other.goto(host.uiUrl);
    await other
      .getByRole('navigation', { name: 'Main' })
      .getByRole('button', { name: 'Transfers', exact: true })
      .click();
    await other.getByText('1 finished batch hidden; its files stay in History.').waitFor();
    expect(await other.getByRole('listitem', { name: `Batch ${batchId}` }).count()).toBe(0);
    await elsewhere.close();
    // It stays cleared after a reload, and comes back on request.
    await page.reload();
    await nav(page, 'Transfers').click();
    await page.getByText('1 finished batch hidden; its files stay in History.').waitFor();
    await page.getByRole('button', { name: 'Show them' }).click();
    await page.getByRole('listitem', { name: `Batch ${batchId}` }).waitFor();

    // At 360 px: the summary, the footer's preview and its filters stay usable and named.
    await page.setViewportSize({ width: 360, height: 800 });
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'control-transfers-360.png'), fullPage: true });
    await nav(page, 'Browse').click();
    await openBucket(page);
    await page.getByRole('checkbox', { name: 'pics/', exact: true }).click();
    if ((await page.getByRole('group', { name: 'Filters for ticked folders' }).count()) === 0)
      await page.getByRole('button', { name: /^Filters/ }).click();
    await expect.poll(() => preview(page).innerText(), { timeout: 15_000 }).toMatch(/already done/);
    await page.screenshot({ path: join(SHOTS, 'control-browse-360.png'), fullPage: true });
    expect(await axeViolations(page)).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);

  it('the bandwidth limit is set in Settings; the bar over all running batches shows the speed it allows', async () => {
    const { page, problems } = await openUi();
    await nav(page, 'Settings').click();
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    const limit = page.getByLabel('Bandwidth limit');
    await limit.fill('8 o’clock');
    // Said beside the field once Save is pressed; nothing is saved.
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Enter a rate such as 20M or 512K').first().waitFor();
    expect((await service.getSettings()).transfers.bwlimit).toBe('');
    await limit.fill('1M');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect
      .poll(async () => (await service.getSettings()).transfers.bwlimit, { timeout: 15_000 })
      .toBe('1M');
    await page.screenshot({ path: join(SHOTS, 'control-settings-bwlimit.png') });

    await nav(page, 'Browse').click();
    await openBucket(page);
    await page.getByRole('checkbox', { name: 'slow/', exact: true }).click();
    await page.getByRole('textbox', { name: 'MEGA folder' }).fill('/Slow');
    await expect.poll(() => preview(page).innerText(), { timeout: 15_000 }).toMatch(/1 to transfer/);
    await page.getByRole('button', { name: 'Start transfer' }).click();
    await page.getByRole('heading', { name: 'Transfers', level: 1 }).waitFor();
    const overall = page.getByRole('region', { name: 'All running batches' });
    await overall.waitFor();
    await overall.getByRole('progressbar', { name: 'All running batches' }).waitFor();
    // After a few seconds at 1 MiB/s, the speed shown is the limit's.
    await page.waitForTimeout(3500);
    const text = await overall.innerText();
    const speed = Number(/([\d.]+) MiB\/s/.exec(text)?.[1]);
    expect(text).toMatch(/1 batch running · [\d.]+ \w+ of 16(\.0+)? MiB/);
    expect(speed).toBeGreaterThan(0.8);
    expect(speed).toBeLessThan(1.2);
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'control-transfers-overall.png') });

    // The same folder while it moves: the preview says another batch has it.
    await nav(page, 'Browse').click();
    await page.getByRole('checkbox', { name: 'slow/', exact: true }).click();
    await expect
      .poll(() => preview(page).innerText(), { timeout: 15_000 })
      .toMatch(/0 to transfer · 0 already done · 1 in progress elsewhere/);
    await page.getByRole('button', { name: 'Clear selection' }).click();

    // No limit: it ends soon, and the overall bar goes with the last running batch.
    await service.saveSettings({ transfers: { bwlimit: '' } });
    await nav(page, 'Transfers').click();
    await waitFor('the running batch to end', async () => (await overall.count()) === 0, 30_000, 200);
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);
});
