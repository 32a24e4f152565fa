// `npm start`: the desktop app where Electron's runtime is installed; otherwise says so and runs
// the headless host, whose web UI is the same app in a browser.
//
// The desktop path is `electron-vite preview`: it builds main (out/main/index.js, an ES module,
// package.json "main"), the preload (out/preload/index.cjs, CommonJS as sandboxed preloads must
// be) and the renderer (out/renderer), then runs `electron .` on the built app.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

function electronBinary() {
  try {
    const path = require('electron');
    return typeof path === 'string' && existsSync(path) ? path : null;
  } catch {
    return null; // electron/index.js throws when its binary was never downloaded
  }
}

/** Runs a command and exits with its code; Ctrl-C reaches it from the terminal, SIGTERM from us. */
function run(command, args) {
  const child = spawn(command, args, { stdio: 'inherit' });
  process.on('SIGINT', () => undefined); // wait for the child's own clean stop
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 1)));
  child.on('error', (err) => {
    console.error(`cannot start ${command}: ${err.message}`);
    process.exit(1);
  });
}

if (electronBinary()) {
  // The electron-vite CLI run with this Node (no npx: works the same on Windows).
  const cli = join(dirname(require.resolve('electron-vite/package.json')), 'bin', 'electron-vite.js');
  run(process.execPath, [cli, 'preview']);
} else {
  console.log(
    "Electron's runtime is not installed on this machine (ELECTRON_SKIP_BINARY_DOWNLOAD), so the desktop window\n" +
      'cannot open; starting the headless host instead (open the UI address it prints; Ctrl-C stops it).\n' +
      'No accounts at hand? `npm run demo` brings up a sandbox with a sample bucket and a local MEGA.\n',
  );
  run(process.execPath, ['bin/megaferry.mjs', 'serve']);
}
