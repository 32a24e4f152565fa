/**
 * The AWS SDK warns at every start that its releases from 2027 will need Node 22. Node 20 is a
 * supported runtime here (and Electron ships 22), so a user can do nothing with that line: this
 * drops that one warning and still prints every other.
 */
export function quietNodeVersionWarning(): void {
  process.removeAllListeners('warning');
  process.on('warning', (w: Error) => {
    if (`${w.name} ${w.message}`.includes('NodeVersionSupportWarning')) return;
    process.stderr.write(`${w.name}: ${w.message}\n`);
  });
}
