/**
 * Node binaries of the maintained LTS lines, fetched from the npm registry as the `node` package
 * (`npx -y node@22`), so the suite can run the built CLI and host on them from a machine whose own
 * Node is another. npx keeps them in npm's cache (`--prefer-offline`: no registry round trip once
 * cached); each line is resolved once per test process.
 *
 * A line the registry cannot supply (no network, registry down) is reported unavailable with the
 * reason, for the tests to skip with it; any other failure is an error.
 */
import { execFile } from 'node:child_process';

/** The LTS lines the project supports (package.json engines) and tests. */
export const NODE_LTS_LINES = [22, 24, 26] as const;

export type NodeLine = { line: number; bin: string; version: string } | { line: number; unavailable: string };

const REGISTRY_UNREACHABLE =
  /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|network|fetch failed|E5\d\d|ENOTCACHED/i;

const resolved = new Map<number, Promise<NodeLine>>();

export function nodeLine(line: number): Promise<NodeLine> {
  let found = resolved.get(line);
  if (!found) {
    found = fetchNodeLine(line);
    resolved.set(line, found);
  }
  return found;
}

function fetchNodeLine(line: number): Promise<NodeLine> {
  return new Promise((resolveLine, reject) => {
    execFile(
      'npx',
      [
        '--yes',
        '--prefer-offline',
        `node@${line}`,
        '-p',
        'JSON.stringify([process.execPath, process.version])',
      ],
      { timeout: 240_000, maxBuffer: 1 << 20, env: { ...process.env, npm_config_update_notifier: 'false' } },
      (err, stdout, stderr) => {
        if (err) {
          const text = `${err.message}\n${stderr}`;
          if (REGISTRY_UNREACHABLE.test(text)) {
            resolveLine({
              line,
              unavailable: `the npm registry could not supply node@${line}: ${firstLine(stderr || err.message)}`,
            });
          } else reject(new Error(`npx node@${line} failed: ${text.trim()}`));
          return;
        }
        try {
          const [bin, version] = JSON.parse(stdout.trim().split('\n').pop() ?? '') as [string, string];
          if (!version.startsWith(`v${line}.`)) throw new Error(`node@${line} reported ${version}`);
          resolveLine({ line, bin, version });
        } catch (parseErr) {
          reject(new Error(`npx node@${line} printed ${JSON.stringify(stdout)}`, { cause: parseErr }));
        }
      },
    );
  });
}

function firstLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .find((l) => l.trim() !== '') ?? text
  );
}
