// Builds the command-line tool into out/cli (run by `npm ci` through the prepare script).
//
// Code splitting: the entry (out/cli/megaferry.mjs) holds commander and the commands; what a
// command imports dynamically (the service, the store adapter chosen, the S3 source, the MEGA
// destination, the host) goes to chunks of its own under out/cli/chunks, loaded when it runs.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';

await rm('out/cli', { recursive: true, force: true });
await build({
  entryPoints: { megaferry: 'src/main/cli/main.ts' },
  outdir: 'out/cli',
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
