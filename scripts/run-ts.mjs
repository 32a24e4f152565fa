// Runs one of the TypeScript scripts (demo, bench): builds it with the test peers it uses into
// out/scripts and runs it, passing Ctrl-C on and waiting for it to clean up.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run-ts.mjs scripts/NAME.ts [args…]');
  process.exit(2);
}
if (!existsSync('out/renderer/index.html') || !existsSync('out/cli/megaferry.mjs')) {
  const r = spawnSync('npm', ['run', '-s', 'prepare'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const outfile = `out/scripts/${basename(entry, '.ts')}.mjs`;
await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  packages: 'external',
  logLevel: 'warning',
});
// s3rver pages listings with DES tokens, which OpenSSL 3 keeps in its legacy provider.
const child = spawn(process.execPath, ['--openssl-legacy-provider', outfile, ...args], { stdio: 'inherit' });
process.on('SIGINT', () => undefined); // the child gets it from the terminal too
process.on('SIGTERM', () => child.kill('SIGTERM'));
process.on('SIGHUP', () => child.kill('SIGHUP'));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
