/** `npm run demo` prints the environment the CLI needs to reach its sandbox, for the platform's shell. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliEnvironmentLines, shellOf } from '../scripts/cli-environment';

const env = {
  MEGAFERRY_DATA_DIR: "/tmp/megaferry-demo-x/it's data",
  AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4568',
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
  MEGA_EMAIL: 'mock@test',
  MEGA_PASSWORD: 'mock',
  MEGAFERRY_MEGA_GATEWAY: 'http://127.0.0.1:4569/',
};

describe('the demo prints the CLI environment', () => {
  it('as export lines a POSIX shell takes as they are, in a stable order', () => {
    expect(cliEnvironmentLines(env, 'posix')).toEqual([
      'export AWS_ENDPOINT_URL_S3=http://127.0.0.1:4568',
      'export AWS_ACCESS_KEY_ID=S3RVER',
      'export AWS_SECRET_ACCESS_KEY=S3RVER',
      'export AWS_REGION=us-east-1',
      'export MEGA_EMAIL=mock@test',
      'export MEGA_PASSWORD=mock',
      'export MEGAFERRY_MEGA_GATEWAY=http://127.0.0.1:4569/',
      `export MEGAFERRY_DATA_DIR='/tmp/megaferry-demo-x/it'\\''s data'`,
    ]);
  });

  it("as PowerShell's $env: lines on Windows", () => {
    expect(shellOf('win32')).toBe('powershell');
    expect(shellOf('linux')).toBe('posix');
    expect(cliEnvironmentLines({ MEGA_EMAIL: 'mock@test', X: "a'b" }, 'powershell')).toEqual([
      "$env:MEGA_EMAIL = 'mock@test'",
      "$env:X = 'a''b'",
    ]);
  });

  it('is what the demo prints, with the command to run', () => {
    const demo = readFileSync(join(__dirname, '..', 'scripts', 'demo.ts'), 'utf8');
    expect(demo).toContain('cliEnvironmentLines(cliEnv, shellOf(process.platform))');
    expect(demo).toMatch(/npm run -s megaferry -- transfer --bucket/);
  });
});
