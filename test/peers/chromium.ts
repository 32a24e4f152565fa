/**
 * Debian's Chromium for the UI tests, and a font with Chinese glyphs (the UI is tested in
 * 简体中文 and 繁體中文 too). When either is missing and the tests run as root, they are installed
 * with apt-get (as on CI and a fresh developer machine); otherwise the tests stop with one line
 * saying what to run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

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
