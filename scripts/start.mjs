// `npm start`: the desktop app where Electron's runtime is installed; otherwise says so and runs
// the headless host, whose web UI is the same app in a browser.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

function electronBinary() {
  try {
    const path = createRequire(import.meta.url)('electron');
    return typeof path === 'string' && existsSync(path) ? path : null;
  } catch {
    return null;
  }
}

if (electronBinary()) {
  const r = spawnSync('npx', ['electron-vite', 'preview'], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
console.log(
  "Electron's runtime is not installed on this machine (ELECTRON_SKIP_BINARY_DOWNLOAD), so the desktop window\n" +
    'cannot open; starting the headless host instead (open the UI address it prints; Ctrl-C stops it).\n' +
    'No accounts at hand? `npm run demo` brings up a sandbox with a sample bucket and a local MEGA.\n',
);
const r = spawnSync(process.execPath, ['bin/megaferry.mjs', 'serve'], { stdio: 'inherit' });
process.exit(r.status ?? 1);
