/**
 * Debian's Chromium for the UI tests, and a font with Chinese glyphs (the UI is tested in
 * 简体中文 and 繁體中文 too). When either is missing and the tests run as root, they are installed
 * with apt-get (as on CI and a fresh developer machine); otherwise the tests stop with one line
 * saying what to run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const PACKAGES = ['chromium', 'fonts-wqy-microhei'];

function hasCjkFont(): boolean {
  try {
    return /wqy|noto sans cjk|noto serif cjk/i.test(execFileSync('fc-list', { encoding: 'utf8' }));
  } catch {
    return false;
  }
}

/** The path of Chromium, installing it (and the font) first when missing and allowed. */
export function ensureChromium(): string {
  if (existsSync(CHROMIUM) && hasCjkFont()) return CHROMIUM;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    throw new Error(
      `the UI tests need Debian's Chromium and a CJK font: run sudo apt-get install -y ${PACKAGES.join(' ')}`,
    );
  }
  process.stderr.write(`installing ${PACKAGES.join(' ')} for the UI tests (apt-get)…\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', ...PACKAGES],
  ]) {
    const r = spawnSync('apt-get', args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) {
      throw new Error(
        `apt-get ${args.join(' ')} failed (exit ${r.status}): install ${PACKAGES.join(' ')} by hand`,
      );
    }
  }
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is still not at ${CHROMIUM} after apt-get install`);
  return CHROMIUM;
}

/** Chromium as the UI tests run it (installing it first where allowed; see ensureChromium). */
export async function launchChromium(): Promise<Browser> {
  const executablePath = ensureChromium();
  return chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** axe-core's browser script, when the package is installed (a devDependency); else null. */
const AXE = ((): string | null => {
  try {
    return createRequire(import.meta.url).resolve('axe-core/axe.min.js');
  } catch {
    return null;
  }
})();

/** True when axe-core is installed (the accessibility checks run). */
export const AXE_AVAILABLE = AXE !== null;

/** Serious and critical axe-core violations on the page (none checked when axe is not installed). */
export async function axeViolations(page: Page): Promise<string[]> {
  if (!AXE) return [];
  // Evaluated through the devtools protocol: the page's CSP (script-src 'self') stays as it is.
  if (!(await page.evaluate('typeof window.axe !== "undefined"')))
    await page.evaluate(await readFile(AXE, 'utf8'));
  const result = (await page.evaluate('window.axe.run(document, { resultTypes: ["violations"] })')) as {
    violations: { id: string; impact: string | null; nodes: { target: string[] }[] }[];
  };
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}
