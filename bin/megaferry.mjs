#!/usr/bin/env node
// The `megaferry` command: runs the CLI built by `npm ci` (prepare) into out/cli.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'out', 'cli', 'megaferry.mjs');
if (!existsSync(built) || !existsSync(join(root, 'out', 'renderer', 'index.html'))) {
  // First use without the prepare step (e.g. installed with --ignore-scripts): build it now.
  process.stderr.write('building the command line and the web UI (first use)…\n');
  // Loaded only here: node:child_process costs every call ~6 ms of CPU to load.
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync('npm', ['run', '-s', 'prepare'], { cwd: root, stdio: ['ignore', 2, 'inherit'] });
  if (r.status !== 0) process.exit(2);
}
await import(pathToFileURL(built).href);
