// `npm start`: the desktop app where Electron's runtime is installed; otherwise the headless host,
// whose web UI is the same app, opened in the system's browser (and its address always printed).
// Either way nothing needs to be configured first: the UI opens on a short setup.
//
// The desktop path is `electron-vite preview`: it builds main (out/main/index.js, an ES module,
// package.json "main"), the preload (out/preload/index.cjs, CommonJS as sandboxed preloads must
// be) and the renderer (out/renderer), then runs `electron .` on the built app.
//
// The browser: $BROWSER when set (`BROWSER=none` opens nothing), else `open` on macOS, `start` on
// Windows, `xdg-open` on Linux when a display is there.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

function electronBinary() {
  try {
    const path = require('electron');
    return typeof path === 'string' && existsSync(path) ? path : null;
  } catch {
    return null; // electron/index.js throws when its binary was never downloaded
  }
}

/** Exits with the child's code; Ctrl-C reaches it from the terminal, SIGTERM from us. */
function follow(child, command) {
  process.on('SIGINT', () => undefined); // wait for the child's own clean stop
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 1)));
  child.on('error', (err) => {
    console.error(`cannot start ${command}: ${err.message}`);
    process.exit(1);
  });
}

function onPath(name) {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, name)));
}

/** The command that opens a URL in the system's browser here, or null (with why) when none. */
function browserCommand(url) {
  const chosen = process.env.BROWSER;
  if (chosen === 'none') return { why: 'BROWSER=none' };
  if (chosen) return { command: chosen, args: [url] };
  if (process.platform === 'darwin') return { command: 'open', args: [url] };
  if (process.platform === 'win32') return { command: 'cmd', args: ['/c', 'start', '""', url] };
  if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return { why: 'no display on this machine' };
  if (!onPath('xdg-open')) return { why: 'xdg-open is not installed' };
  return { command: 'xdg-open', args: [url] };
}

function openBrowser(url) {
  const how = browserCommand(url);
  if (!how.command) {
    console.log(`Open the UI address above in a browser (${how.why}).`);
    return;
  }
  const opener = spawn(how.command, how.args, { stdio: 'ignore', detached: true });
  opener.on('error', (err) =>
    console.log(`Could not open a browser (${err.message}): open the UI address above yourself.`),
  );
  opener.on('spawn', () => {
    console.log('Opened the UI in your browser.');
    opener.unref();
  });
}

if (electronBinary()) {
  // The electron-vite CLI run with this Node (no npx: works the same on Windows).
  const cli = join(dirname(require.resolve('electron-vite/package.json')), 'bin', 'electron-vite.js');
  follow(spawn(process.execPath, [cli, 'preview'], { stdio: 'inherit' }), 'electron-vite');
} else {
  console.log(
    "Electron's runtime is not installed on this machine (ELECTRON_SKIP_BINARY_DOWNLOAD), so the desktop window\n" +
      'cannot open: starting the headless host, whose UI is the same app in a browser (Ctrl-C stops it).\n' +
      'No accounts at hand? `npm run demo` brings up a sandbox with a sample bucket and a local MEGA.\n',
  );
  // Human log lines when we are on a terminal (the host sees a pipe, so it is told).
  const env = { ...process.env };
  if (process.stdout.isTTY && !env.MEGAFERRY_LOG_FORMAT) env.MEGAFERRY_LOG_FORMAT = 'pretty';
  const child = spawn(process.execPath, ['bin/megaferry.mjs', 'serve'], {
    stdio: ['inherit', 'pipe', 'inherit'],
    env,
  });
  let seen = '';
  let opened = false;
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    if (opened) return;
    seen += chunk.toString();
    const ui = /^UI: (\S+)$/m.exec(seen);
    if (ui) {
      opened = true;
      openBrowser(ui[1]);
    }
  });
  follow(child, 'the headless host');
}
