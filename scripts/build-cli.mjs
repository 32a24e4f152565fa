// Builds the command-line tool into out/cli (run by `npm ci` through the prepare script).
//
// Code splitting: the entry (out/cli/megaferry.mjs) holds commander and the commands; what a
// command imports dynamically (the service, the store adapter chosen, the S3 source, the MEGA
// destination, the host) goes to chunks of its own under out/cli/chunks, loaded when it runs.
//
// Dependencies are bundled too (their ES builds, so unused code is left out: the AWS SDK's S3
// client without the commands MegaFerry never sends, zod without its locales: see below), except
// those that cannot be (better-sqlite3's native addon) or that only some commands load (mongodb
// with MONGODB_URI, fastify for `serve`). Every process pays for what it loads: resolving and
// translating each package's files one by one (ESM resolution, CommonJS export detection) cost a
// 10-byte transfer about a third of its start-up.
import { build } from 'esbuild';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * commander loads node:child_process (with node:net and node:dgram) when it loads, for the
 * executable subcommands (`git-style`) that MegaFerry has none of: ~6 ms of CPU of every call,
 * `--help` included. Its one `require` of it becomes a `spawn` that loads it at first use. Fails
 * the build if commander's line changes.
 */
const commanderLazyChildProcess = {
  name: 'commander-lazy-child-process',
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const line = "const childProcess = require('node:child_process');";
      if (!source.includes(line)) throw new Error(`${args.path}: no "${line}" to make lazy`);
      const lazy = "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) };";
      return { contents: source.replace(line, lazy), loader: 'js' };
    });
  },
};

/**
 * node:crypto costs a process ~7 ms of CPU to load, and `status` (or `files`, `pause`, …) calls
 * none of it; but the modules every command loads import it (the engine, the settings, the cursor
 * seal, the local destination's folder check). Our own modules get a stand-in whose functions load
 * node:crypto at their first call (process.getBuiltinModule), except the MEGA and S4 destinations',
 * which use it at once (MEGA's imports more than functions). The packages keep theirs. A name the
 * stand-in lacks fails the build.
 */
const LAZY_CRYPTO_FUNCTIONS = [
  'createCipheriv',
  'createDecipheriv',
  'createHash',
  'createHmac',
  'hkdfSync',
  'randomBytes',
  'randomInt',
  'randomUUID',
  'scryptSync',
  'timingSafeEqual',
];
const lazyCrypto = {
  name: 'lazy-crypto',
  setup(b) {
    b.onResolve({ filter: /^node:crypto$/ }, (args) =>
      /[\\/]src[\\/]/.test(args.importer) &&
      !/[\\/]engine[\\/]destinations[\\/](mega|s4)[^\\/]*$/.test(args.importer)
        ? { path: 'node:crypto', namespace: 'lazy-crypto' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-crypto' }, () => ({
      contents: [
        "const crypto = () => process.getBuiltinModule('node:crypto');",
        ...LAZY_CRYPTO_FUNCTIONS.map(
          (name) => `export function ${name}(...args) { return crypto().${name}(...args); }`,
        ),
      ].join('\n'),
      loader: 'js',
    }));
  },
};

/**
 * zod re-exports its 64 locales (`z.locales`, `core.locales`: 360 KB of the 615 KB the contract's
 * chunk was) whatever is used; MegaFerry words its own messages (describeZodError) and never
 * switches zod's language. The locales' index becomes English alone, the one zod configures by
 * default. Fails the build if zod's layout changes.
 */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic[\\/]external|core[\\/]index|mini[\\/]external)\.js$/.test(args.importer)
        ? { path: join(args.resolveDir, '..', 'locales', 'index.js'), namespace: 'zod-english-only' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, async (args) => {
      const index = await readFile(args.path, 'utf8');
      const english = 'export { default as en } from "./en.js";';
      if (!index.includes(english)) throw new Error(`${args.path}: no "${english}"`);
      return { contents: english, loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

const BANNER =
  "import { createRequire as __megaferryCreateRequire } from 'node:module';\nconst require = __megaferryCreateRequire(import.meta.url);";

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
  // better-sqlite3's JavaScript is bundled; its addon is loaded by path (platform/sqlite-driver.ts),
  // never through `bindings`.
  external: ['bindings', 'mongodb', 'fastify', '@fastify/static', 'electron'],
  // A package's ES build where it has one (tree-shaken), else its CommonJS one.
  mainFields: ['module', 'main'],
  // Bundled CommonJS code requires Node's built-ins: give each output file a `require` (taken
  // out again below from the files that never use it).
  banner: { js: BANNER },
  plugins: [commanderLazyChildProcess, lazyCrypto, zodEnglishOnly],
  // Whitespace and comments out (names and syntax kept): V8 scans every byte of every file a
  // command loads, and each file's text stays in memory as a string.
  minifyWhitespace: true,
  sourcemap: true,
  logLevel: 'warning',
});

// The banner's `require` only where the code uses one (esbuild's __require lives in one chunk, and
// a few modules call require themselves): every createRequire costs the process a module path
// lookup, and status loads ~25 files. Its lines become empty lines, so the source maps still fit.
for (const dir of ['out/cli', 'out/cli/chunks']) {
  for (const name of await readdir(dir)) {
    if (!name.endsWith('.mjs')) continue;
    const file = join(dir, name);
    const code = await readFile(file, 'utf8');
    if (!code.startsWith(BANNER)) throw new Error(`${file}: no banner where one was expected`);
    const body = code.slice(BANNER.length);
    if (!/\brequire\b/.test(body)) await writeFile(file, '\n' + body);
  }
}
