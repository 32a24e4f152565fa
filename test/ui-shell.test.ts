/**
 * The web UI the host serves, in Debian's Chromium (Playwright): it loads without console errors,
 * takes the token from `#token=` and drops it from the address bar, and shows the host's state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { configFromEnv } from '../src/main/service/config';
import { FerryService } from '../src/main/service/ferry-service';
import { startHost, type RunningHost } from '../src/main/host/server';
import { startS3Peer, type S3Peer } from './peers/s3';
import { startMegaPeer, type MegaPeer } from './peers/mega';
import { ferryEnv } from './peers/env';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const UI_DIR = resolve(__dirname, '..', 'out', 'renderer');
const ARTIFACTS = resolve(__dirname, '..', 'test-results');

let s3: S3Peer;
let mega: MegaPeer;
let work: string;
let service: FerryService;
let host: RunningHost;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium`);
  if (!existsSync(join(UI_DIR, 'index.html'))) throw new Error('the renderer is not built: npm run prepare');
  [s3, mega] = await Promise.all([startS3Peer(['ui-bucket']), startMegaPeer()]);
  work = await mkdtemp(join(tmpdir(), 'megaferry-ui-'));
  await s3.put('ui-bucket', 'a.txt', 'hello');
  service = await FerryService.open(configFromEnv(ferryEnv({ s3, mega }, join(work, 'data'))), {
    resume: false,
  });
  host = await startHost(service, { host: '127.0.0.1', port: 0, uiDir: UI_DIR });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await host?.close();
  await service?.close();
  await Promise.all([s3?.stop(), mega?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the web UI served by the host', () => {
  it('loads without console errors, keeps the token out of the address and shows the batches', async () => {
    const started = await service.startBatch({ bucket: 'ui-bucket', keys: ['a.txt'], target: '/Ui' });
    await service.manager.waitForBatch(started.batch_id);

    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${String(e)}`));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(host.uiUrl);
    await page.getByText(/Connected — version/).waitFor();
    await page.getByRole('cell', { name: started.batch_id }).waitFor();
    expect(page.url()).toBe(`${host.url}/`);
    expect(page.url()).not.toContain(host.token);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'web-shell.png') });
    expect(problems).toEqual([]);

    // Without the token the API refuses and the page says what to do.
    const fresh = await browser.newPage();
    await fresh.goto(`${host.url}/`);
    await fresh.getByText(/No token/).waitFor();
    await fresh.close();
    await page.close();
  });
});
