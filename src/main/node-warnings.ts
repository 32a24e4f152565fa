/**
 * Two warnings a user can do nothing with, dropped; every other warning is still printed:
 *
 * - the AWS SDK's NodeVersionSupportWarning, printed at every start on Node 20 (end of life, no
 *   longer supported here, but still the Node of some machines where the CLI works);
 * - Node's ExperimentalWarning for node:sqlite, the embedded store's engine on Node 22 and later
 *   (src/main/platform/sqlite-driver.ts): chosen on purpose, and tested on every supported line.
 */
export function quietNodeVersionWarning(): void {
  process.removeAllListeners('warning');
  process.on('warning', (w: Error) => {
    if (isExpectedWarning(w)) return;
    process.stderr.write(`${w.name}: ${w.message}\n`);
  });
}

export function isExpectedWarning(w: Error): boolean {
  const text = `${w.name} ${w.message}`;
  if (text.includes('NodeVersionSupportWarning')) return true;
  return w.name === 'ExperimentalWarning' && /^SQLite is an experimental feature/.test(w.message);
}
