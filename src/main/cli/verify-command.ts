/**
 * `megaferry verify [--batch ID | --all] [--sample N] [--repair] [--json]`: the command line's
 * side of src/main/service/verify.ts. A line per file as its check ends and a summary (or only the
 * report as JSON); returns the exit code: 0 every file checked is ok (after the repair, if any),
 * 1 any mismatch or a file that could not be read; 130 interrupted (Ctrl-C). Bad input throws
 * InputError (exit 2).
 */
import { InputError } from '../engine/errors';
import { loadedDestination } from '../engine/destinations/lazy';
import { MegaDestination } from '../engine/destinations/mega';
import { configFromEnv } from '../service/config';
import { FerryService } from '../service/ferry-service';
import { keyFileSecretBox } from '../service/key-file-box';
import { verifyFiles, type FileVerification, type VerifySummary } from '../service/verify';

export interface VerifyCommandOptions {
  batch?: string;
  all?: boolean;
  sample?: string;
  repair?: boolean;
  json?: boolean;
}

export async function verifyCommand(opts: VerifyCommandOptions): Promise<number> {
  if (opts.batch !== undefined && opts.all)
    throw new InputError('verify takes --batch <batch_id> or --all, not both');
  let sample: number | undefined;
  if (opts.sample !== undefined) {
    sample = Number(opts.sample);
    if (!/^\s*\d+\s*$/.test(opts.sample) || !Number.isSafeInteger(sample) || sample < 1) {
      throw new InputError(`--sample must be a whole number of files, at least 1 (got "${opts.sample}")`);
    }
  }
  const json = Boolean(opts.json);
  const config = configFromEnv();
  const service = await FerryService.open(config, {
    resume: false,
    secretBox: keyFileSecretBox(config.dataDir),
  });
  try {
    service.requireDestination('mega');
    const destination = await loadedDestination(service.megaDestination);
    if (!(destination instanceof MegaDestination)) throw new InputError('verify needs the MEGA destination');
    const out = (line: string): void => {
      if (!json) process.stdout.write(line + '\n');
    };
    const controller = new AbortController();
    const onSignal = (): void => controller.abort();
    process.once('SIGINT', onSignal);
    try {
      const report = await verifyFiles(
        {
          store: service.store,
          source: service.source,
          destination,
          startBatch: (request) => service.startBatch(request),
          waitForBatch: (id) => service.manager.waitForBatch(id),
          maxFilesPerBatch: service.config.engine.maxFilesPerBatch,
        },
        {
          batchId: opts.batch,
          sample,
          repair: Boolean(opts.repair),
          signal: controller.signal,
          onResult: (file) => out(line(file)),
          onRepair: (ids, files) =>
            out(
              `repairing ${files} file${files === 1 ? '' : 's'} (${ids.join(', ')}), then checking them again:`,
            ),
        },
      );
      if (json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      } else {
        if (report.summary.files === 0) out('no done files to verify');
        out(`verified ${summaryText(report.summary)}`);
        if (report.repair) out(`after repair: ${summaryText(report.repair.summary)}`);
      }
      if (controller.signal.aborted) return 130; // interrupted: the checks cut short are not recorded
      return report.ok ? 0 : 1;
    } finally {
      process.off('SIGINT', onSignal);
    }
  } finally {
    await service.close();
  }
}

function line(f: FileVerification): string {
  return `${f.result.padEnd(15)} ${f.bucket_name}/${f.remote_key} → ${f.s4_key}${f.detail ? ` — ${f.detail}` : ''}`;
}

function summaryText(s: VerifySummary): string {
  const parts = [`${s.ok} ok`];
  if (s.mac_mismatch) parts.push(`${s.mac_mismatch} MAC mismatch`);
  if (s.bytes_mismatch) parts.push(`${s.bytes_mismatch} bytes mismatch`);
  if (s.missing) parts.push(`${s.missing} missing`);
  if (s.error) parts.push(`${s.error} not readable`);
  return `${s.files} file${s.files === 1 ? '' : 's'}: ${parts.join(', ')}`;
}
