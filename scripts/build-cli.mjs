// Builds the command-line tool into out/cli (run by `npm ci` through the prepare script).
import { build } from 'esbuild';

await build({
  entryPoints: ['src/main/cli/main.ts'],
  outfile: 'out/cli/megaferry.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
