/**
 * The environment that points the command line at a running sandbox (`npm run demo`): the same
 * S3 endpoint and keys, MEGA account and gateway, and data folder (so the CLI shares the host's
 * embedded store: its batches show in the UI and the UI's in `status`). Printed as lines to paste
 * into another terminal, for the shell of this platform. The sandbox's keys and password are
 * mega-mock's and s3rver's public test values, nothing real.
 */
export type ShellKind = 'posix' | 'powershell';

const ORDER = [
  'AWS_ENDPOINT_URL_S3',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_REGION',
  'MEGA_EMAIL',
  'MEGA_PASSWORD',
  'MEGAFERRY_MEGA_GATEWAY',
  'MEGAFERRY_DATA_DIR',
];

function quote(value: string, shell: ShellKind): string {
  if (shell === 'powershell') return `'${value.replace(/'/g, "''")}'`;
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `export NAME=value` lines (or PowerShell's `$env:NAME = 'value'`), in a stable order. */
export function cliEnvironmentLines(env: Record<string, string>, shell: ShellKind): string[] {
  const names = [
    ...ORDER.filter((n) => n in env),
    ...Object.keys(env)
      .filter((n) => !ORDER.includes(n))
      .sort(),
  ];
  return names.map((name) =>
    shell === 'powershell'
      ? `$env:${name} = ${quote(env[name]!, shell)}`
      : `export ${name}=${quote(env[name]!, shell)}`,
  );
}

export function shellOf(platform: NodeJS.Platform): ShellKind {
  return platform === 'win32' ? 'powershell' : 'posix';
}
