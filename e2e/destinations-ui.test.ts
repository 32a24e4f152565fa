/**
 * Destinations in the UI (issue 11, item 6), in Debian's Chromium against the headless host with
 * the real peers (s3rver, mega-mock, MEGA S4 as a second s3rver behind the S4 rules proxy, a
 * folder on this machine): the MEGA S4 and Local folder sections of Settings (derived from the
 * registry) saved and tested, the destination picker beside the target in Browse (the last used
 * remembered), a batch card naming its destination, a copyable location for S4 and local copies,
 * and History showing where each copy went. Screenshots go to test-results/ui/destinations-*.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { configFromEnv } from '../src/main/service/config';
import { FerryService } from '../src/main/service/ferry-service';
import { keyFileSecretBox } from '../src/main/service/key-file-box';
import { startHost, type RunningHost } from '../src/main/host/server';
import { startS3Peer, type S3Peer } from '../test/peers/s3';
import { startS4Peer, type S4Peer } from '../test/peers/s4';
import { startMegaPeer, type MegaPeer } from '../test/peers/mega';
import { ferryEnv } from '../test/peers/env';
import { axeViolations, launchChromium } from '../test/peers/chromium';
import { sha256, testBytes } from '../test/peers/fixtures';

const UI_DIR = resolve(__dirname, '..', 'out', 'renderer');
const SHOTS = resolve(__dirname, '..', 'test-results', 'ui');
const BUCKET = 'media';
const ARCHIVE = 'archive';

let s3: S3Peer;
let s4: S4Peer;
let mega: MegaPeer;
let work: string;
let folder: string;
let service: FerryService;
let host: RunningHost;
let browser: Browser;
const shas = new Map<string, string>();

beforeAll(async () => {
  if (!existsSync(join(UI_DIR, 'index.html'))) throw new Error('the renderer is not built: npm run prepare');
  [s3, s4, mega] = await Promise.all([
    startS3Peer([BUCKET]),
    startS4Peer({ buckets: [ARCHIVE] }),
    startMegaPeer(),
  ]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-dest-ui-'));
  folder = join(work, 'Local Archive');
  for (const [i, key] of ['pics/a.jpg', 'pics/b ü.jpg', 'pics/c.png'].entries()) {
    const data = testBytes(200_000 + i, 30 + i);
    await s3.put(BUCKET, key, data);
    shas.set(key, sha256(data));
  }
  const dataDir = join(work, 'data');
  // S4 is configured from the UI (its secret sealed by the host's key file), not the environment.
  service = await FerryService.open(configFromEnv(ferryEnv({ s3, mega }, dataDir)), {
    resume: false,
    secretBox: keyFileSecretBox(dataDir),
  });
  host = await startHost(service, { host: '127.0.0.1', port: 0, uiDir: UI_DIR });
  browser = await launchChromium();
  await mkdir(SHOTS, { recursive: true });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await host?.close();
  await service?.close();
  await Promise.all([s3?.stop(), s4?.stop(), mega?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

async function openUi(): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], {
    origin: new URL(host.uiUrl).origin,
  });
  const page = await context.newPage();
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

async function tick(page: Page, key: string): Promise<void> {
  const picker = page.getByRole('combobox', { name: 'Bucket' });
  if ((await picker.inputValue()) !== BUCKET) await picker.selectOption(BUCKET);
  await page.getByRole('grid', { name: 'Folder contents' }).waitFor();
  if (!(await page.getByRole('checkbox', { name: key, exact: true }).isVisible())) {
    await page.getByRole('button', { name: 'Open folder pics' }).click();
  }
  await page.getByRole('checkbox', { name: key, exact: true }).click();
}

describe('destinations in the UI', () => {
  it('S4 and a local folder set up in Settings, picked in Browse, shown on the card and in History', async () => {
    const { page, problems } = await openUi();

    // Settings: the MEGA S4 and Local folder sections, saved and tested.
    await nav(page, 'Settings').click();
    const s4Section = page.getByRole('region', { name: 'MEGA S4' });
    await s4Section.getByLabel('Endpoint').fill(s4.endpoint);
    await s4Section.getByLabel('Region').fill(s4.region);
    await s4Section.getByLabel('Access key ID').fill(s4.accessKeyId);
    await s4Section.getByLabel('Secret access key').fill(s4.secretAccessKey);
    await s4Section.getByLabel('Default bucket and prefix').fill('Not A Bucket!');
    const localSection = page.getByRole('region', { name: 'Local folder' });
    await localSection.getByLabel('Default folder').fill(folder);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    // A target S4 would not take is said beside its field, and nothing is saved.
    await s4Section.getByText('Enter a bucket and an optional prefix, such as archive/2024/.').waitFor();
    await s4Section.getByLabel('Default bucket and prefix').fill(`${ARCHIVE}/ui/`);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Settings saved.').waitFor();
    expect((await service.getSettings()).s4).toMatchObject({
      endpoint: s4.endpoint,
      access_key_id: s4.accessKeyId,
      has_secret_access_key: true,
      default_target: `${ARCHIVE}/ui/`,
    });
    expect(await s4Section.getByLabel('Secret access key').inputValue()).toBe('');
    await s4Section.getByRole('button', { name: 'Test MEGA S4 connection' }).click();
    await expect
      .poll(() => s4Section.getByRole('status').innerText(), { timeout: 20_000 })
      .toMatch(/1 bucket visible; default bucket archive can be written/);
    await localSection.getByRole('button', { name: 'Test Local folder connection' }).click();
    await expect
      .poll(() => localSection.getByRole('status').innerText(), { timeout: 20_000 })
      .toMatch(/can be written/);
    expect(await axeViolations(page)).toEqual([]);
    await s4Section.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, 'destinations-settings-s4.png') });

    // Browse: MEGA S4 picked, its default target offered; a bad bucket stops Start.
    await nav(page, 'Browse').click();
    await tick(page, 'pics/a.jpg');
    const picker = page.getByRole('combobox', { name: 'Destination' });
    expect(await picker.inputValue()).toBe('mega');
    await picker.selectOption('s4');
    const target = page.getByRole('textbox', { name: 'Bucket and prefix' });
    expect(await target.inputValue()).toBe(`${ARCHIVE}/ui/`);
    await target.fill('Bad Bucket!');
    await page.getByRole('alert').filter({ hasText: 'Enter a bucket and an optional prefix' }).waitFor();
    expect(await page.getByRole('button', { name: 'Start transfer' }).isDisabled()).toBe(true);
    await target.fill(`${ARCHIVE}/ui/`);
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'destinations-browse-picker.png') });
    await page.getByRole('button', { name: 'Start transfer' }).click();

    // Transfers: the card names MEGA S4 and the target; the done file has a copyable location.
    await page.getByRole('heading', { name: 'Transfers', level: 1 }).waitFor();
    const card = page.getByRole('listitem', { name: /^Batch batch_/ }).first();
    await expect.poll(() => card.innerText(), { timeout: 60_000 }).toMatch(/Completed/);
    expect(await card.innerText()).toMatch(/MEGA S4 archive\/ui\//);
    const object = await s4.readObject(ARCHIVE, 'ui/pics/a.jpg');
    expect(sha256(object?.bytes ?? Buffer.alloc(0))).toBe(shas.get('pics/a.jpg'));
    const header = card.getByRole('button', { name: /^batch_/ });
    if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
    await card.getByRole('button', { name: 'Copy location: pics/a.jpg' }).click();
    await card.getByRole('button', { name: 'Copied: pics/a.jpg' }).waitFor();
    const copied = await page.evaluate(() =>
      (
        globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }
      ).navigator.clipboard.readText(),
    );
    expect(copied).toBe(`${s4.endpoint.replace('http://', 'https://')}/${ARCHIVE}/ui/pics/a.jpg`);
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'destinations-transfers-s4.png') });

    // Browse again, after a reload: the last destination used is offered; then a local folder.
    await page.reload();
    await page.getByRole('heading', { name: 'Transfers', level: 1 }).waitFor();
    await nav(page, 'Browse').click();
    expect(await page.getByRole('combobox', { name: 'Destination' }).inputValue()).toBe('s4');
    await tick(page, 'pics/b ü.jpg');
    await page.getByRole('combobox', { name: 'Destination' }).selectOption('local');
    expect(await page.getByRole('textbox', { name: 'Folder on this machine' }).inputValue()).toBe(folder);
    await page.getByRole('button', { name: 'Start transfer' }).click();
    await page.getByRole('heading', { name: 'Transfers', level: 1 }).waitFor();
    // The local batch's card, not the S4 batch's (already Completed, and the only card until the new
    // one is drawn: polling the first card could end before the file was written).
    await expect
      .poll(
        () =>
          page
            .getByRole('listitem', { name: /^Batch batch_/ })
            .filter({ hasNotText: 'MEGA S4' })
            .first()
            .innerText(),
        { timeout: 60_000 },
      )
      .toMatch(/Completed/);
    expect(sha256(await readFile(join(folder, 'pics/b ü.jpg')))).toBe(shas.get('pics/b ü.jpg'));

    // History: where each copy went.
    await nav(page, 'History').click();
    const table = page.getByRole('table');
    await expect.poll(() => table.innerText(), { timeout: 15_000 }).toMatch(/ui\/pics\/a\.jpg/);
    const text = await table.innerText();
    expect(text).toContain(`S4 ${new URL(s4.endpoint).host}/${ARCHIVE}`);
    expect(text).toContain(folder);
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'destinations-history.png') });
    expect(problems).toEqual([]);
    await page.context().close();
  });
});
