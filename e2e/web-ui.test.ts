/**
 * The UI in Debian's Chromium (Playwright) against the headless host with the real peers: s3rver,
 * mega-mock and the embedded store. A newcomer's path (open, pick the bucket, open folders, select
 * files, start, watch the bars move, see them done, open History), cancel, a failed file shown
 * with its reason and retried, a dropped manifest, Settings, and every screen in Simplified and
 * Traditional Chinese (chosen by the browser's locale and in Settings). Bytes are proven by
 * downloading back from MEGA; statuses are read back from the store. Screenshots of each screen
 * go to test-results/ui/.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { configFromEnv } from '../src/main/service/config';
import { FerryService } from '../src/main/service/ferry-service';
import { startHost, type RunningHost } from '../src/main/host/server';
import { startS3Peer, type S3Peer } from '../test/peers/s3';
import { downloadAllSha256, downloadSha256, startMegaPeer, type MegaPeer } from '../test/peers/mega';
import { ferryEnv } from '../test/peers/env';
import { launchChromium } from '../test/peers/chromium';
import { MiB, repeatingStream, sha256, testBytes, waitFor } from '../test/peers/fixtures';

const UI_DIR = resolve(__dirname, '..', 'out', 'renderer');
const SHOTS = resolve(__dirname, '..', 'test-results', 'ui');
const BUCKET = 'media';
/** A second bucket with one large folder, for the virtualized list. */
const ARCHIVE = 'archive';
const MANY = 10_000;
const BIG = 160 * MiB;

const SMALL: Record<string, Buffer> = {
  'README.txt': testBytes(2048, 1),
  'photos/2024/a.jpg': testBytes(3 * MiB + 5, 2),
  'photos/2024/b.jpg': testBytes(2 * MiB + 7, 3),
  'photos/2024/c.jpg': testBytes(MiB + 11, 4),
  'docs/notes.txt': testBytes(300, 5),
};

/** A large object streamed into s3rver without holding it in memory. */
const bigBody = (size: number) => repeatingStream(testBytes(MiB, 9), size);

let s3: S3Peer;
let mega: MegaPeer;
let work: string;
let service: FerryService;
let host: RunningHost;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(join(UI_DIR, 'index.html'))) throw new Error('the renderer is not built: npm run prepare');
  [s3, mega] = await Promise.all([startS3Peer([BUCKET, ARCHIVE]), startMegaPeer()]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-ui-'));
  for (const [key, body] of Object.entries(SMALL)) await s3.put(BUCKET, key, body);
  for (const key of ['video/big-1.mp4', 'video/big-2.mp4']) await s3.put(BUCKET, key, bigBody(BIG), BIG);
  const kib = testBytes(1024, 7);
  // A folder of 300 objects: six batches of the cap (50) when ticked in Browse.
  await s3.putMany(
    BUCKET,
    Array.from({ length: 300 }, (_, i) => ({
      key: `three-hundred/${String(i).padStart(3, '0')}.bin`,
      body: kib,
    })),
  );
  await s3.putMany(
    ARCHIVE,
    Array.from({ length: MANY }, (_, i) => ({
      key: `scans/page-${String(i).padStart(5, '0')}.tif`,
      body: kib,
    })),
  );
  service = await FerryService.open(configFromEnv(ferryEnv({ s3, mega }, join(work, 'data'))), {
    resume: false,
  });
  host = await startHost(service, { host: '127.0.0.1', port: 0, uiDir: UI_DIR });
  browser = await launchChromium();
  await mkdir(SHOTS, { recursive: true });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await host?.close();
  await service?.close();
  await Promise.all([s3?.stop(), mega?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

/** A page that records every console error or warning, page error and failed request. */
/** The store's document of the transfer of `key` to `path` (on the configured MEGA account). */
function docAt(key: string, path: string) {
  return service.store.getFile({
    bucket_name: BUCKET,
    remote_key: key,
    destination: service.megaDestination.id,
    s4_key: path,
  });
}

async function openUi(
  opts: { locale?: string; heading?: string } = {},
): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({
    viewport: { width: 1280, height: 800 },
    locale: opts.locale ?? 'en-US',
  });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${String(e)}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
  });
  await page.goto(host.uiUrl);
  await page.getByRole('heading', { name: opts.heading ?? 'Browse', level: 1 }).waitFor();
  return { page, problems };
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** Opens a bucket's root in Browse. */
async function openBucket(page: Page, bucket = BUCKET): Promise<void> {
  const picker = page.getByRole('combobox', { name: 'Bucket' });
  if ((await picker.inputValue()) !== bucket) await picker.selectOption(bucket);
  await page.getByRole('grid', { name: 'Folder contents' }).waitFor();
}

async function batchIdOnScreen(page: Page): Promise<string> {
  const item = page.getByRole('listitem', { name: /^Batch batch_/ }).first();
  await item.waitFor();
  return ((await item.getAttribute('aria-label')) ?? '').replace(/^Batch /, '');
}

async function progressOf(page: Page, label: string): Promise<number> {
  return Number(
    await page.getByRole('progressbar', { name: label, exact: true }).getAttribute('aria-valuenow'),
  );
}

describe('the web UI against the headless host and real peers', () => {
  it("a newcomer's path: browse folders, select a range, start, see every file done, then History", async () => {
    const { page, problems } = await openUi();
    // The token came from #token= and left the address bar.
    expect(page.url()).toBe(`${host.url}/`);
    await openBucket(page);
    // A folder that holds only folders is listed (photos/ holds 2024/ only).
    await page.getByRole('button', { name: 'Open folder photos' }).click();
    await page.getByRole('button', { name: 'Open folder 2024' }).click();
    await expect
      .poll(() => page.getByRole('navigation', { name: 'Folder path' }).innerText())
      .toMatch(/media.*photos.*2024/s);
    await page.getByRole('checkbox', { name: 'photos/2024/a.jpg', exact: true }).click();
    await page
      .getByRole('checkbox', { name: 'photos/2024/c.jpg', exact: true })
      .click({ modifiers: ['Shift'] });
    for (const key of ['a', 'b', 'c'])
      expect(
        await page.getByRole('checkbox', { name: `photos/2024/${key}.jpg`, exact: true }).isChecked(),
      ).toBe(true);
    await expect.poll(() => page.locator('body').innerText()).toMatch(/3 objects · 6\.00 MiB/);
    // A target the host would refuse is refused here, with the reason, before Start.
    const target = page.getByRole('textbox', { name: 'MEGA folder' });
    await target.fill('/a/./b');
    await page.getByRole('alert').filter({ hasText: 'must not contain “.” or “..”' }).waitFor();
    expect(await page.getByRole('button', { name: 'Start transfer' }).isDisabled()).toBe(true);
    await target.fill('/Newcomer');
    expect(await page.getByRole('button', { name: 'Start transfer' }).isDisabled()).toBe(false);
    await shot(page, 'browse');
    await page.getByRole('button', { name: 'Start transfer' }).click();

    await page.getByRole('heading', { name: 'Transfers', level: 1 }).waitFor();
    const batchId = await batchIdOnScreen(page);
    await waitFor(
      'the batch bar at 100',
      async () => (await progressOf(page, `Batch ${batchId}`)) === 100,
      60_000,
    );
    for (const key of ['a', 'b', 'c']) {
      expect(await progressOf(page, `photos/2024/${key}.jpg`)).toBe(100);
      await page.getByRole('link', { name: `Open in MEGA: photos/2024/${key}.jpg` }).waitFor();
    }
    await expect
      .poll(() => page.getByRole('listitem', { name: `Batch ${batchId}` }).innerText())
      .toMatch(/Completed/);
    await shot(page, 'transfers');

    for (const key of ['a', 'b', 'c']) {
      const data = SMALL[`photos/2024/${key}.jpg`] as Buffer;
      expect(await downloadSha256(mega, `/Newcomer/photos/2024/${key}.jpg`)).toEqual({
        sha256: sha256(data),
        size: data.length,
      });
      const doc = await service.store.getFile({
        bucket_name: BUCKET,
        remote_key: `photos/2024/${key}.jpg`,
        destination: service.megaDestination.id,
        s4_key: `/Newcomer/photos/2024/${key}.jpg`,
      });
      expect(doc?.status).toBe('done');
      expect(doc?.s4_key).toBe(`/Newcomer/photos/2024/${key}.jpg`);
    }

    await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'History' }).click();
    await page.getByRole('heading', { name: 'History', level: 1 }).waitFor();
    for (const key of ['a', 'b', 'c'])
      await page.getByText(`/Newcomer/photos/2024/${key}.jpg`).first().waitFor();
    await page.getByRole('combobox', { name: 'Status' }).selectOption('done');
    await page.getByRole('searchbox', { name: 'Search files' }).fill('b.jpg');
    await expect.poll(() => page.getByText('/Newcomer/photos/2024/a.jpg').count()).toBe(0);
    await page.getByText('/Newcomer/photos/2024/b.jpg').first().waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export CSV' }).click(),
    ]);
    const csvPath = join(work, 'history.csv');
    await download.saveAs(csvPath);
    const csv = await readFile(csvPath, 'utf8');
    // A UTF-8 byte order mark first, so Excel reads accents and Chinese names as written.
    expect(csv.charCodeAt(0)).toBe(0xfeff);
    expect(csv).toContain('photos/2024/b.jpg');
    expect(csv).not.toContain('photos/2024/a.jpg');
    await shot(page, 'history');
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);

  it('shows the bars move, and cancel stops the batch with nothing left transferring', async () => {
    // A slow link: the first file is still moving when the cancel is clicked, however busy the machine.
    mega.setChunkDelay(400);
    onTestFinished(() => mega.setChunkDelay(0));
    const { page, problems } = await openUi();
    await openBucket(page);
    await page.getByRole('button', { name: 'Open folder video' }).click();
    await page.getByRole('checkbox', { name: 'Select all in folder' }).click();
    await page.getByRole('spinbutton', { name: 'Concurrent' }).fill('1');
    await page.getByRole('textbox', { name: 'MEGA folder' }).fill('/Cancelled');
    await page.getByRole('button', { name: 'Start transfer' }).click();
    await page.getByRole('heading', { name: 'Transfers', level: 1 }).waitFor();
    const batchId = await batchIdOnScreen(page);

    // The first file's bar moves: a value strictly between 0 and 100 is seen.
    const seen = new Set<number>();
    await waitFor(
      'a bar part-way',
      async () => {
        const v = await progressOf(page, 'video/big-1.mp4').catch(() => 0);
        seen.add(v);
        return v > 0 && v < 100;
      },
      60_000,
      20,
    );
    await shot(page, 'transfers-moving');
    await page
      .getByRole('listitem', { name: `Batch ${batchId}` })
      .getByRole('button', { name: 'Cancel batch' })
      .click();
    await expect
      .poll(() => page.getByRole('listitem', { name: `Batch ${batchId}` }).innerText(), { timeout: 10_000 })
      .toMatch(/Cancelled/);
    await page
      .getByRole('listitem', { name: `Batch ${batchId}` })
      .getByRole('button', { name: 'Retry failed' })
      .waitFor();
    const status = await service.getBatch(batchId);
    expect(status.overall_status).toBe('cancelled');
    expect(status.transferring).toBe(0);
    // Cancelled, or done when it finished before the click reached the host; never processing.
    const ended = await Promise.all(
      ['video/big-1.mp4', 'video/big-2.mp4'].map(
        async (key) => (await docAt(key, `/Cancelled/${key}`))?.status,
      ),
    );
    for (const s of ended) expect(['cancelled', 'done']).toContain(s);
    expect(ended).toContain('cancelled');
    await shot(page, 'transfers-cancelled');
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);

  it('shows a failed file with its reason, and Retry failed brings it to done', async () => {
    const { page, problems } = await openUi();
    await openBucket(page);
    mega.setUploadError(() => new Error('simulated MEGA upload failure'));
    try {
      await page.getByRole('checkbox', { name: 'README.txt', exact: true }).click();
      await page.getByRole('textbox', { name: 'MEGA folder' }).fill('/Retried');
      await page.getByRole('button', { name: 'Start transfer' }).click();
      await page.getByRole('heading', { name: 'Transfers', level: 1 }).waitFor();
      const batchId = await batchIdOnScreen(page);
      const card = page.getByRole('listitem', { name: `Batch ${batchId}` });
      await card.getByRole('button', { name: 'Retry failed' }).waitFor({ timeout: 60_000 });
      const doc = await docAt('README.txt', '/Retried/README.txt');
      expect(doc?.status).toBe('s4_upload_failed');
      expect(doc?.error_message).toBeTruthy();
      // The row shows the status and the reason the store holds.
      await expect.poll(() => card.innerText()).toContain(doc?.error_message ?? '');
      await expect.poll(() => card.innerText()).toMatch(/Upload failed|MEGA/);
      await shot(page, 'transfers-failed');

      mega.setUploadError(null);
      await card.getByRole('button', { name: 'Retry failed' }).click();
      await waitFor(
        'the retried batch at 100',
        async () => (await progressOf(page, `Batch ${batchId}`)) === 100,
        60_000,
      );
      await expect.poll(() => card.innerText()).toMatch(/Completed/);
      const data = SMALL['README.txt'] as Buffer;
      expect(await downloadSha256(mega, '/Retried/README.txt')).toEqual({
        sha256: sha256(data),
        size: data.length,
      });
      expect((await docAt('README.txt', '/Retried/README.txt'))?.status).toBe('done');
    } finally {
      mega.setUploadError(null);
    }
    // The failed attempt answered 4xx/5xx on the MEGA side only; the UI itself made no bad request.
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);

  it('a dropped manifest selects the keys it names and says which it could not find', async () => {
    const { page, problems } = await openUi();
    await openBucket(page);
    const csv = 'key,code\nphotos/2024/a.jpg,A-1\ndocs/notes.txt,N-1\nmissing/nothing.bin,X-9\n';
    // A DataTransfer made in the page, as the browser makes one for a file dragged in.
    const transfer = await page.evaluateHandle(
      `(() => { const dt = new DataTransfer(); dt.items.add(new File([${JSON.stringify(csv)}], 'manifest.csv', { type: 'text/csv' })); return dt; })()`,
    );
    await page.dispatchEvent('body', 'dragenter', { dataTransfer: transfer });
    await page.getByRole('dialog', { name: 'Drop files' }).waitFor();
    await shot(page, 'drop-overlay');
    await page.dispatchEvent('body', 'drop', { dataTransfer: transfer });
    await expect
      .poll(() => page.locator('body').innerText(), { timeout: 15_000 })
      .toContain('missing/nothing.bin');
    await expect.poll(() => page.locator('body').innerText()).toMatch(/2 objects/);
    expect(await page.getByRole('dialog', { name: 'Drop files' }).count()).toBe(0);
    await shot(page, 'browse-manifest');
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it('lists a folder of 10,000 objects page by page in a virtualized list, and selects them all', async () => {
    const { page, problems } = await openUi();
    await openBucket(page, ARCHIVE);
    const started = Date.now();
    await page.getByRole('button', { name: 'Open folder scans' }).click();
    await expect
      .poll(() => page.locator('body').innerText(), { timeout: 60_000 })
      .toContain('0 folders, 10,000 objects');
    const loadMs = Date.now() - started;
    // Only the rows in view (and a few around) are in the page, whatever the folder holds.
    const grid = page.getByRole('grid', { name: 'Folder contents' });
    expect(await grid.getAttribute('aria-rowcount')).toBe(String(MANY + 1));
    const rendered = await grid.getByRole('row').count();
    expect(rendered).toBeGreaterThan(5);
    expect(rendered).toBeLessThan(100);
    await page.getByRole('checkbox', { name: 'Select all in folder' }).click();
    await expect.poll(() => page.locator('body').innerText()).toMatch(/10,000 objects · 9\.77 MiB/);
    // The end of the list is one key press away, and still only a window of rows is rendered.
    await page.getByRole('checkbox', { name: 'scans/page-00000.tif', exact: true }).focus();
    await page.keyboard.press('End');
    await page.getByRole('checkbox', { name: 'scans/page-09999.tif', exact: true }).waitFor();
    expect(await grid.getByRole('row').count()).toBeLessThan(100);
    await shot(page, 'browse-10000');
    console.log(`10,000 objects listed in the UI in ${loadMs} ms; ${rendered} rows rendered`);
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);

  it('Settings shows the configuration without secrets and tests the S3 and MEGA connections', async () => {
    const { page, problems } = await openUi();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    const s3Section = page.getByRole('region', { name: 'S3' });
    await s3Section.getByRole('button', { name: 'Test' }).click();
    await expect.poll(() => s3Section.innerText(), { timeout: 15_000 }).toMatch(/2 buckets visible/);
    const megaSection = page.getByRole('region', { name: 'MEGA', exact: true });
    await megaSection.getByRole('button', { name: 'Test' }).click();
    await expect.poll(() => megaSection.innerText(), { timeout: 30_000 }).toMatch(/logged in as mock@test/);
    // Secrets are write-only: their fields are empty, the page only says they are set.
    expect(await megaSection.getByLabel('Password', { exact: true }).inputValue()).toBe('');
    expect(await s3Section.getByLabel('Secret access key').inputValue()).toBe('');
    await shot(page, 'settings');
    // The system theme is followed live (colour transitions settle before the picture).
    await page.emulateMedia({ colorScheme: 'dark' });
    await expect.poll(() => page.evaluate('document.documentElement.dataset.theme')).toBe('dark');
    await page.waitForTimeout(400);
    await shot(page, 'settings-dark');
    expect(problems).toEqual([]);

    // Without the token the API refuses and the page says what to do.
    const fresh = await browser.newPage();
    await fresh.goto(`${host.url}/`);
    await fresh
      .getByText(/megaferry serve/)
      .first()
      .waitFor();
    await fresh.close();
    await page.close();
  }, 60_000);

  /** Visits the four screens in one language, checks their texts and takes a picture of each. */
  async function tourInChinese(page: Page, language: 'zh-Hans' | 'zh-Hant'): Promise<void> {
    const words = {
      'zh-Hans': {
        nav: ['浏览', '传输', '历史记录', '设置'],
        bucket: '存储桶',
        listing: /个文件夹，\d+ 个对象/,
        selected: /3 个对象 · 6\.00 MiB/,
        start: '开始传输',
        completed: '已完成',
        status: '状态',
        test: '测试',
        language: '语言',
      },
      'zh-Hant': {
        nav: ['瀏覽', '傳輸', '歷史紀錄', '設定'],
        bucket: '儲存貯體',
        listing: /個資料夾，\d+ 個物件/,
        selected: /3 個物件 · 6\.00 MiB/,
        start: '開始傳輸',
        completed: '已完成',
        status: '狀態',
        test: '測試',
        language: '語言',
      },
    }[language];
    const [browse, transfers, history, settings] = words.nav as [string, string, string, string];
    const nav = page.getByRole('navigation', { name: language === 'zh-Hans' ? '主导航' : '主選單' });
    const english = /\b(Browse|Transfers|History|Settings|Refresh|Status|Completed|Loading|Bucket|Folder)\b/;
    expect(await page.evaluate('document.documentElement.lang')).toBe(language);

    await nav.getByRole('button', { name: browse }).click();
    await page.getByRole('heading', { name: browse, level: 1 }).waitFor();
    const picker = page.getByRole('combobox', { name: words.bucket });
    if ((await picker.inputValue()) !== BUCKET) await picker.selectOption(BUCKET);
    await page
      .getByRole('button', { name: language === 'zh-Hans' ? '打开文件夹 photos' : '開啟資料夾 photos' })
      .click();
    await page
      .getByRole('button', { name: language === 'zh-Hans' ? '打开文件夹 2024' : '開啟資料夾 2024' })
      .click();
    await expect.poll(() => page.locator('.listing-status').innerText()).toMatch(words.listing);
    await page.getByRole('checkbox', { name: 'photos/2024/a.jpg', exact: true }).click();
    await page
      .getByRole('checkbox', { name: 'photos/2024/c.jpg', exact: true })
      .click({ modifiers: ['Shift'] });
    await expect.poll(() => page.locator('.startbar').innerText()).toMatch(words.selected);
    await page.getByRole('button', { name: words.start }).waitFor();
    expect(await page.locator('.content').innerText()).not.toMatch(english);
    await shot(page, `${language}-browse`);
    await page.getByRole('checkbox', { name: 'photos/2024/a.jpg', exact: true }).press('Escape');

    await nav.getByRole('button', { name: transfers }).click();
    await page.getByRole('heading', { name: transfers, level: 1 }).waitFor();
    await page.locator('.badge', { hasText: words.completed }).first().waitFor();
    expect(await page.locator('.content').innerText()).not.toMatch(english);
    await shot(page, `${language}-transfers`);

    await nav.getByRole('button', { name: history }).click();
    await page.getByRole('heading', { name: history, level: 1 }).waitFor();
    await page.getByRole('columnheader', { name: words.status }).waitFor();
    await page.getByText('/Newcomer/photos/2024/a.jpg').first().waitFor();
    expect(await page.locator('.content').innerText()).not.toMatch(english);
    await shot(page, `${language}-history`);

    await nav.getByRole('button', { name: settings }).click();
    await page.getByRole('heading', { name: settings, level: 1 }).waitFor();
    await page.getByRole('region', { name: 'S3' }).getByRole('button', { name: words.test }).waitFor();
    await page.getByRole('combobox', { name: words.language }).waitFor();
    expect(await page.locator('.content').innerText()).not.toMatch(english);
    await shot(page, `${language}-settings`);
  }

  it('shows every screen in 简体中文 by the browser locale and in 繁體中文 chosen in Settings, live', async () => {
    expect((await service.getSettings()).ui.language).toBe('system');
    // The browser's language, with the setting at "system": zh-CN → Simplified, zh-TW/HK → Traditional.
    const cn = await openUi({ locale: 'zh-CN', heading: '浏览' });
    await tourInChinese(cn.page, 'zh-Hans');
    expect(cn.problems).toEqual([]);
    await cn.page.close();
    for (const locale of ['zh-TW', 'zh-HK']) {
      const tw = await openUi({ locale, heading: '瀏覽' });
      await tw.page.close();
    }
    // The page without a token says what to do in the browser's language too.
    const fresh = await browser.newPage({ locale: 'zh-TW' });
    await fresh.goto(`${host.url}/`);
    await fresh.getByRole('heading', { name: '請從網址開啟 MegaFerry', level: 1 }).waitFor();
    await fresh.close();

    // An English browser, Traditional chosen in Settings: the UI changes at once, without a reload.
    const { page, problems } = await openUi({ locale: 'en-US' });
    try {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Settings' }).click();
      const picker = page.getByRole('combobox', { name: 'Language' });
      expect(await picker.inputValue()).toBe('system');
      await picker.selectOption('zh-Hant');
      await page.getByRole('heading', { name: '設定', level: 1 }).waitFor();
      await expect.poll(async () => (await service.getSettings()).ui.language).toBe('zh-Hant');
      await tourInChinese(page, 'zh-Hant');
      // Saved with the other settings: a reload (or another browser) opens in Traditional.
      // (and on the screen it was on: the address keeps it).
      await page.reload();
      await page.getByRole('heading', { name: '設定', level: 1 }).waitFor();
      expect(page.url()).toMatch(/#\/settings$/);
      // Back to the system's language (English here).
      await page.getByRole('navigation', { name: '主選單' }).getByRole('button', { name: '設定' }).click();
      await page.getByRole('combobox', { name: '語言' }).selectOption('system');
      await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
      await expect.poll(async () => (await service.getSettings()).ui.language).toBe('system');
      expect(problems).toEqual([]);
    } finally {
      await service.saveSettings({ ui: { language: 'system' } });
      await page.close();
    }
  }, 120_000);

  // Last: its 300 documents would push the earlier tests' files off History's first page.
  it('a folder of 300 objects ticked in Browse goes as six batches, shown as one selection, all done', async () => {
    const { page, problems } = await openUi();
    await openBucket(page);
    await page.getByRole('checkbox', { name: 'three-hundred/', exact: true }).click();
    await page.getByRole('textbox', { name: 'MEGA folder' }).fill('/ThreeHundred');
    await page.getByRole('button', { name: 'Start transfer' }).click();
    await page.getByRole('heading', { name: 'Transfers', level: 1 }).waitFor();
    const group = page.getByRole('listitem', { name: /^Selection sel_/ });
    await group.getByText('One selection in 6 batches').waitFor({ timeout: 60_000 });
    // The selection's own head: its status and its counts over all six batches.
    const head = async () => (await group.innerText()).split('\n').slice(0, 7).join(' | ');
    await expect.poll(head, { timeout: 180_000, interval: 500 }).toMatch(/Completed.*300 \/ 300 done/);
    await group.scrollIntoViewIfNeeded();
    await shot(page, 'transfers-selection');
    // The store: six batches of one selection, 50 files each, every one done; MEGA holds each once.
    const batches = (await service.listBatches()).filter((b) => b.target === '/ThreeHundred');
    expect(batches).toHaveLength(6);
    expect(new Set(batches.map((b) => b.selection)).size).toBe(1);
    expect(batches.every((b) => b.total_files === 50 && b.overall_status === 'completed')).toBe(true);
    const paths = batches.flatMap((b) => b.files.map((f) => f.s4_key));
    expect(new Set(paths).size).toBe(300);
    const kib = sha256(testBytes(1024, 7));
    for (const [path, got] of await downloadAllSha256(mega, paths)) {
      expect(got, path).toEqual({ sha256: kib, size: 1024 });
    }
    expect(problems).toEqual([]);
    await page.close();
  }, 300_000);
});
