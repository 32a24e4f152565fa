/**
 * A new user's first run, in Debian's Chromium against a real `megaferry serve` process started
 * with nothing configured (no S3 keys, no MEGA account, a fresh data folder), in front of the real
 * peers: s3rver (behind the tests' proxy, which refuses ListBuckets with 403 AccessDenied as a
 * bucket-scoped policy does) and mega-mock.
 *
 * The UI opens on the setup; S3 without credentials says so; every bad field is named at once, in
 * each language; the S3 Test checks the default bucket although the keys may not list buckets; the
 * secrets entered are sealed with the data folder's key file (0600); a bucket is typed and
 * remembered; a transfer completes and its end is announced; a reload returns to the batch; a host
 * gone away shows "disconnected — reconnecting" with actions disabled until it is back; the layout
 * holds at 360, 900 and 1280 px; and, where axe-core is installed, no serious or critical
 * accessibility violation is found on any screen in either theme or any language. Screenshots go
 * to test-results/ui/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startS3Peer, type S3Peer } from '../test/peers/s3';
import { downloadSha256, startMegaPeer, type MegaPeer } from '../test/peers/mega';
import { startFaultProxy, type FaultProxy } from '../test/peers/fault-proxy';
import { AXE_AVAILABLE, axeViolations, launchChromium } from '../test/peers/chromium';
import { sha256, testBytes } from '../test/peers/fixtures';

const BIN = resolve(__dirname, '..', 'bin', 'megaferry.mjs');
const SHOTS = resolve(__dirname, '..', 'test-results', 'ui');
const TOKEN = 'first-run-token-0123456789abcdef';
const BUCKET = 'media';
const SECOND = 'second-bucket';
const PASSWORD_PROBE = 'mock'; // mega-mock's shipped account password
const README = testBytes(4096, 11);

let s3: S3Peer;
let mega: MegaPeer;
let proxy: FaultProxy;
let work: string;
let dataDir: string;
let host: { child: ChildProcess; url: string; exit: Promise<number | null> } | null = null;
let port = 0;
let browser: Browser;
/** ListBuckets is refused (403) while this is true; everything else reaches s3rver. */
let denyList = true;

/** `megaferry serve` as a new user runs it: nothing configured, no AWS files, no instance role. */
async function serve(): Promise<{ child: ChildProcess; url: string; exit: Promise<number | null> }> {
  const home = join(work, 'home');
  await mkdir(home, { recursive: true });
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      PATH: process.env.PATH,
      HOME: home,
      AWS_CONFIG_FILE: join(home, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-aws-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      MEGAFERRY_DATA_DIR: dataDir,
      MEGAFERRY_MEGA_GATEWAY: mega.gateway,
      MEGAFERRY_PORT: String(port),
      MEGAFERRY_TOKEN: TOKEN,
      MEGAFERRY_RETRY_ATTEMPTS: '2',
      MEGAFERRY_RETRY_BASE_MS: '20',
      MEGAFERRY_RETRY_MAX_MS: '100',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = await new Promise<string>((resolveUrl, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) resolveUrl(m[1]);
    });
    child.on('exit', () => reject(new Error(`serve exited early: ${out}`)));
  });
  port = Number(new URL(url).port);
  return { child, url, exit };
}

async function stopHost(): Promise<void> {
  if (!host) return;
  host.child.kill('SIGTERM');
  await host.exit;
  host = null;
}

async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${host!.url}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

beforeAll(async () => {
  [s3, mega] = await Promise.all([startS3Peer([BUCKET, SECOND]), startMegaPeer()]);
  await s3.put(BUCKET, 'README.txt', README);
  await s3.put(BUCKET, 'photos/a.jpg', testBytes(2048, 12));
  await s3.put(SECOND, 'other/notes.txt', testBytes(100, 13));
  // GET / is ListBuckets (path-style): refused as a bucket-scoped policy refuses it.
  proxy = await startFaultProxy({
    target: s3.endpoint,
    seed: 1,
    decide: (req) => (denyList && req.method === 'GET' && req.url.split('?')[0] === '/' ? 'denied' : null),
  });
  work = await mkdtemp(join(tmpdir(), 'megaferry-first-run-'));
  dataDir = join(work, 'data');
  host = await serve();
  browser = await launchChromium();
  await mkdir(SHOTS, { recursive: true });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await stopHost();
  await proxy?.stop();
  await Promise.all([s3?.stop(), mega?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

async function openUi(
  opts: { locale?: string; width?: number; heading: string | RegExp; path?: string } = {
    heading: 'Settings',
  },
): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({
    viewport: { width: opts.width ?? 1280, height: 800 },
    locale: opts.locale ?? 'en-US',
  });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${String(e)}`));
  await page.goto(`${host!.url}/${opts.path ?? ''}#token=${TOKEN}`);
  await page.getByRole('heading', { name: opts.heading, level: 1 }).waitFor();
  return { page, problems };
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

const nav = (page: Page, name: string) =>
  page.getByRole('navigation').getByRole('button', { name, exact: true });

describe('first run: npm start with nothing configured', () => {
  it('the host starts without a MEGA account and refuses transfers with a clear message', async () => {
    const health = await fetch(`${host!.url}/api/health`);
    expect(health.status).toBe(200);
    const refused = await call<{ error: string }>('POST', '/api/batches', {
      bucket: BUCKET,
      keys: ['README.txt'],
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(
      /MEGA account not configured: enter the MEGA e-mail and password in Settings/,
    );
    expect((await call<unknown[]>('GET', '/api/batches')).body).toEqual([]);
    const view = await call<{ secret_storage: string }>('GET', '/api/settings');
    expect(view.body.secret_storage).toBe('key_file');
    // No key file until a secret is saved.
    expect(existsSync(join(dataDir, 'secret.key'))).toBe(false);
  });

  it('opens on the setup with the sandbox pointer; S3 without credentials says so and what to do', async () => {
    const { page, problems } = await openUi({ heading: 'Settings' });
    const setup = page.getByRole('region', { name: 'Get started' });
    await setup.waitFor();
    expect(await setup.innerText()).toContain('npm run demo');
    for (const step of ['Go to S3', 'Go to MEGA', 'Go to MongoDB'])
      await setup.getByRole('button', { name: step }).waitFor();
    // Three Test buttons, three names.
    for (const name of ['Test S3 connection', 'Test MEGA connection', 'Test MongoDB connection'])
      expect(await page.getByRole('button', { name, exact: true }).count()).toBe(1);
    await shot(page, 'first-run');
    expect(await axeViolations(page)).toEqual([]);

    await nav(page, 'Browse').click();
    const banner = page.getByRole('alert').filter({ hasText: 'No S3 credentials were found' });
    await banner.waitFor({ timeout: 20_000 });
    expect(await banner.innerText()).toMatch(/Settings › S3.*AWS_ACCESS_KEY_ID/s);
    // A bucket can be typed even now.
    await page.getByRole('textbox', { name: 'Bucket name' }).waitFor();
    await shot(page, 'first-run-browse-no-credentials');
    expect(problems.filter((p) => !/status of (400|401|403|404|502)/.test(p))).toEqual([]);
    await page.close();
  }, 90_000);

  it('names every bad field at once beside it, in each language, and saves nothing', async () => {
    const before = await call<unknown>('GET', '/api/settings');
    for (const [locale, heading, words] of [
      [
        'en-US',
        'Settings',
        { bucket: 'A bucket name is 3 to 255', summary: 'Not saved: 5 fields need attention.' },
      ],
      ['zh-CN', '设置', { bucket: '存储桶名称为 3 到 255', summary: '未保存：有 5 项需要修改。' }],
      ['zh-TW', '設定', { bucket: '儲存貯體名稱為 3 到 255', summary: '未儲存：有 5 個欄位需要修正。' }],
    ] as const) {
      const { page } = await openUi({ locale, heading });
      const fill = (name: string, value: string) => page.locator(`input[name="${name}"]`).fill(value);
      await fill('s3.endpoint', 'ftp://files.example.com');
      await fill('s3.default_bucket', 'Not a bucket!');
      await fill('mega.email', 'someone-without-at');
      await fill('mega.mfa_code', '12');
      await fill('transfers.max_concurrent', '99');
      await page.locator('button[type="submit"]').click();
      await page.getByRole('alert').filter({ hasText: words.summary }).waitFor();
      const invalid = page.locator('[aria-invalid="true"]');
      expect(await invalid.count()).toBe(5);
      // Each error is beside its field and is the field's description for screen readers.
      const bucket = page.locator('input[name="s3.default_bucket"]');
      const described = (await bucket.getAttribute('aria-describedby')) ?? '';
      const errorId = described.split(' ').find((id) => id.endsWith('-error'));
      expect(await page.locator(`[id="${errorId}"]`).innerText()).toContain(words.bucket);
      // The first bad field has the focus.
      expect(await page.evaluate('document.activeElement?.getAttribute("name")')).toBe('s3.endpoint');
      await shot(
        page,
        `settings-errors-${locale === 'en-US' ? 'en' : locale === 'zh-CN' ? 'zh-Hans' : 'zh-Hant'}`,
      );
      await page.close();
    }
    expect((await call<unknown>('GET', '/api/settings')).body).toEqual(before.body);
  }, 90_000);

  it('Test checks the default bucket when the keys may not list buckets; secrets saved sealed (0600 key)', async () => {
    const { page, problems } = await openUi({ heading: 'Settings' });
    const fill = (name: string, value: string) => page.locator(`input[name="${name}"]`).fill(value);
    await fill('s3.endpoint', proxy.url.replace(/\/$/, ''));
    await fill('s3.access_key_id', 'S3RVER');
    await fill('s3.secret_access_key', 'S3RVER');
    await fill('s3.default_bucket', BUCKET);
    // By keyboard alone: Tab to the S3 Test and press Enter.
    await page.locator('input[name="s3.default_bucket"]').focus();
    for (let i = 0; i < 30; i++) {
      if (
        (await page.evaluate('document.activeElement?.getAttribute("aria-label")')) === 'Test S3 connection'
      )
        break;
      await page.keyboard.press('Shift+Tab');
    }
    expect(await page.evaluate('document.activeElement?.getAttribute("aria-label")')).toBe(
      'Test S3 connection',
    );
    await page.keyboard.press('Enter');
    const s3Section = page.getByRole('region', { name: 'S3' });
    await expect
      .poll(() => s3Section.innerText(), { timeout: 20_000 })
      .toMatch(
        /OK: the bucket list is not allowed for these credentials; default bucket “media” can be read/,
      );

    await fill('mega.email', mega.email);
    await fill('mega.password', mega.password);
    await page.getByRole('button', { name: 'Test MEGA connection' }).click();
    const megaSection = page.getByRole('region', { name: 'MEGA', exact: true });
    await expect.poll(() => megaSection.innerText(), { timeout: 30_000 }).toMatch(/logged in as mock@test/);
    await page.locator('button[type="submit"]').click();
    await page.getByText('Settings saved.', { exact: true }).waitFor();
    // Configured: the setup steps step aside.
    await expect.poll(() => page.getByRole('region', { name: 'Get started' }).count()).toBe(0);
    expect(await page.locator('input[name="mega.password"]').inputValue()).toBe('');
    await megaSection.getByText('Saved sealed, with the key in the file secret.key').first().waitFor();
    await shot(page, 'first-run-configured');

    const key = await stat(join(dataDir, 'secret.key'));
    expect(key.mode & 0o777).toBe(0o600);
    const text = await readFile(join(dataDir, 'settings.json'), 'utf8');
    expect(text).not.toContain(`"${PASSWORD_PROBE}"`);
    expect(JSON.parse(text)).toMatchObject({ settings: { 'mega.email': mega.email } });
    expect(Object.keys((JSON.parse(text) as { sealed: object }).sealed).sort()).toEqual([
      'mega.password',
      's3.secret_access_key',
    ]);
    // The only failed requests: the bucket list the proxy refuses (S3's 403 → the host's 502).
    expect(problems.filter((p) => !/status of 502/.test(p))).toEqual([]);
    await page.close();
  }, 90_000);

  it('browses without ListBuckets: the default bucket opens, a typed one is remembered; a transfer is announced', async () => {
    const { page, problems } = await openUi({ heading: 'Browse' });
    await page.getByRole('alert').filter({ hasText: 'These S3 credentials may not list buckets' }).waitFor();
    // The default bucket is open anyway.
    await page.getByRole('checkbox', { name: 'README.txt', exact: true }).waitFor();
    await page.getByRole('combobox', { name: 'Bucket' }).selectOption({ label: 'Other bucket…' });
    const typed = page.getByRole('textbox', { name: 'Bucket name' });
    await typed.fill('Bad Name!');
    await page.getByRole('button', { name: 'Open bucket' }).click();
    await page.getByRole('alert').filter({ hasText: 'A bucket name is 3 to 255' }).waitFor();
    await typed.fill(SECOND);
    await page.getByRole('button', { name: 'Open bucket' }).click();
    await page.getByRole('button', { name: 'Open folder other' }).waitFor();
    await shot(page, 'browse-typed-bucket');
    // A bucket that is not there says so and what to do.
    await page.getByRole('combobox', { name: 'Bucket' }).selectOption({ label: 'Other bucket…' });
    await page.getByRole('textbox', { name: 'Bucket name' }).fill('no-such-bucket');
    await page.getByRole('button', { name: 'Open bucket' }).click();
    await page.getByRole('alert').filter({ hasText: 'There is no bucket “no-such-bucket”' }).waitFor();

    // Remembered: after a reload it is offered beside the default one.
    await page.reload();
    await page.getByRole('heading', { name: 'Browse', level: 1 }).waitFor();
    const picker = page.getByRole('combobox', { name: 'Bucket' });
    await expect
      .poll(() => picker.locator('option').allInnerTexts())
      .toEqual([BUCKET, SECOND, 'Other bucket…']);

    await page.getByRole('combobox', { name: 'Bucket' }).selectOption(BUCKET);
    await page.getByRole('checkbox', { name: 'README.txt', exact: true }).click();
    await page.getByRole('textbox', { name: 'MEGA folder' }).fill('/FirstRun');
    await page.getByRole('button', { name: 'Start transfer' }).click();
    await page.getByRole('heading', { name: 'Transfers', level: 1 }).waitFor();
    const card = page.getByRole('listitem', { name: /^Batch batch_/ }).first();
    await expect.poll(() => card.innerText(), { timeout: 60_000 }).toMatch(/Completed/);
    const batchId = ((await card.getAttribute('aria-label')) ?? '').replace(/^Batch /, '');
    // The live region says the batch ended, for a screen reader wherever its user is.
    await expect
      .poll(() => page.getByTestId('announcer').innerText(), { timeout: 10_000 })
      .toBe(`Batch ${batchId} ended: Completed. 1 of 1 files done, 0 failed.`);
    expect(await downloadSha256(mega, '/FirstRun/README.txt')).toEqual({
      sha256: sha256(README),
      size: README.length,
    });

    // A reload returns to Transfers and to this batch, open.
    expect(page.url()).toContain(`#/transfers/${batchId}`);
    await page.reload();
    await page.getByRole('heading', { name: 'Transfers', level: 1 }).waitFor();
    const again = page.getByRole('listitem', { name: `Batch ${batchId}` });
    await expect.poll(() => again.getByRole('button', { expanded: true }).count()).toBe(1);
    await again.getByRole('progressbar', { name: 'README.txt' }).waitFor();
    await shot(page, 'transfers-after-reload');
    expect(problems.filter((p) => !/status of (400|403|404|502)/.test(p))).toEqual([]);
    await page.close();
  }, 120_000);

  it('shows "disconnected — reconnecting" with actions disabled while the host is away, then recovers', async () => {
    const { page } = await openUi({ heading: 'Browse', path: '' });
    await page.getByRole('checkbox', { name: 'README.txt', exact: true }).click();
    const start = page.getByRole('button', { name: 'Start transfer' });
    expect(await start.isDisabled()).toBe(false);
    await stopHost();
    const banner = page.getByRole('alert').filter({ hasText: 'Disconnected — reconnecting…' });
    await banner.waitFor({ timeout: 20_000 });
    expect(await start.isDisabled()).toBe(true);
    await nav(page, 'Settings').click();
    expect(await page.getByRole('button', { name: 'Test S3 connection' }).isDisabled()).toBe(true);
    await shot(page, 'disconnected');
    host = await serve(); // same port, same token, same data folder
    await banner.waitFor({ state: 'detached', timeout: 30_000 });
    expect(await page.getByRole('button', { name: 'Test S3 connection' }).isDisabled()).toBe(false);
    // The secrets saved before the restart open with the key file.
    const view = await call<{ mega: { has_password: boolean } }>('GET', '/api/settings');
    expect(view.body.mega.has_password).toBe(true);
    await page.close();
  }, 90_000);

  it('is usable from 360 to 1280 px in both themes, and axe finds nothing serious in any language', async () => {
    denyList = false;
    const checked: string[] = [];
    for (const width of [360, 900, 1280]) {
      const { page, problems } = await openUi({ width, heading: 'Browse', path: '' });
      for (const screen of ['Browse', 'Transfers', 'History', 'Workers', 'Settings']) {
        await nav(page, screen).click();
        await page.getByRole('heading', { name: screen, level: 1 }).waitFor();
        if (screen === 'Transfers') {
          const toggle = page.locator('.batch__toggle').first();
          if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
          await page.getByRole('progressbar', { name: 'README.txt' }).first().waitFor();
        }
        if (screen === 'History') await page.getByText('/FirstRun/README.txt').first().waitFor();
        if (screen === 'Workers') await page.locator('.workers-table tbody tr').first().waitFor();
        if (screen === 'Browse')
          await page.getByRole('checkbox', { name: 'README.txt', exact: true }).waitFor();
        // Nothing runs off the side of the window.
        expect(
          await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'),
          `${screen} at ${width}px`,
        ).toBe(true);
        const wide = await page.evaluate(`[...document.querySelectorAll('.table-wrap')]
          .filter((w) => w.scrollWidth > w.clientWidth + 1).length`);
        expect(wide, `${screen} at ${width}px: a table wider than its box`).toBe(0);
        if (screen === 'Settings') {
          const box = await page.locator('input[name="s3.endpoint"]').boundingBox();
          expect(box?.width ?? 0, `Settings input at ${width}px`).toBeGreaterThan(Math.min(280, width - 80));
        }
        if (screen === 'Transfers') {
          const file = await page.getByText('README.txt', { exact: true }).first().boundingBox();
          expect(file?.width ?? 0, `file name at ${width}px`).toBeGreaterThan(40);
        }
        await shot(page, `layout-${width}-${screen.toLowerCase()}`);
        for (const theme of ['light', 'dark'] as const) {
          await page.emulateMedia({ colorScheme: theme });
          await page.waitForTimeout(250);
          if (width === 360 && theme === 'dark') await shot(page, `layout-360-${screen.toLowerCase()}-dark`);
          if (width !== 900) {
            expect(await axeViolations(page), `${screen} at ${width}px, ${theme}`).toEqual([]);
            checked.push(`${screen}/${width}/${theme}`);
          }
        }
        await page.emulateMedia({ colorScheme: 'light' });
      }
      expect(problems).toEqual([]);
      await page.close();
    }
    for (const [locale, names] of [
      ['zh-CN', ['浏览', '传输', '历史记录', '设置']],
      ['zh-TW', ['瀏覽', '傳輸', '歷史紀錄', '設定']],
    ] as const) {
      const { page } = await openUi({ locale, width: 360, heading: names[0], path: '' });
      for (const name of names) {
        await nav(page, name).click();
        await page.getByRole('heading', { name, level: 1 }).waitFor();
        expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
        for (const theme of ['light', 'dark'] as const) {
          await page.emulateMedia({ colorScheme: theme });
          await page.waitForTimeout(250);
          expect(await axeViolations(page), `${name} (${locale}), ${theme}`).toEqual([]);
        }
      }
      await shot(page, `layout-360-settings-${locale === 'zh-CN' ? 'zh-Hans' : 'zh-Hant'}`);
      await page.close();
    }
    if (!AXE_AVAILABLE)
      console.log('axe-core is not installed: the accessibility checks were skipped (npm ci installs it)');
    else
      console.log(`axe-core: ${checked.length} screen/width/theme combinations in English, and both Chinese`);
  }, 240_000);
});
