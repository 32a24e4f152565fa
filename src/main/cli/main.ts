/**
 * The `megaferry` command line (SPEC.md "Command line"): transfer, status, files, retry, resume, verify.
 * Exit codes: 0 all done; 1 any failed or cancelled; 2 bad input or configuration; 130 interrupted.
 *
 * Start-up is part of every call's cost, so this module loads nothing heavy: the service (and with
 * it the store adapter chosen, the AWS SDK, megajs) and the host (fastify) are imported by the
 * commands that use them, when they run. `--help` loads commander alone.
 */
// First: every later allocation of this process sees the young generation's cap.
import './young-generation';
import { Command, CommanderError, Option } from 'commander';
import type { BatchStarted, BatchStatus, FerryEvent } from '../../shared/contract';
import { keyProblem } from '../../shared/object-paths';
import { isFolderMarker } from '../engine/paths';
import { FILE_STATUSES, newSelectionId } from '../../shared/constants';
import { InputError, apiErrorKind, redactSecrets } from '../engine/errors';
import { ERROR_KIND_TABLE } from '../../shared/error-kinds';
import type { FerryConfig } from '../service/config';
import type { FerryService, FerryServiceOptions } from '../service/ferry-service';
import { quietNodeVersionWarning } from '../node-warnings';
import { fileURLToPath } from 'node:url';
import { createProgressView, formatBytes } from './progress-view';
import { planText, summaryText, writeReport } from './summary';
import { summarizeTransfer } from '../../shared/transfer-summary';
import { type FiltersInput, objectFilter, resolveFilters } from '../../shared/filters';
import { bwLimitProblem } from '../../shared/bwlimit';
import pkg from '../../../package.json';
import { DESTINATIONS, type DestinationKind, parseDestinationSpec } from '../../shared/destinations';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_INPUT = 2;
const EXIT_INTERRUPTED = 130;

class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

function intOption(flag: string, min: number, max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^\s*-?\d+\s*$/.test(raw) || !Number.isInteger(n) || n < min || n > max) {
      throw new InputError(`${flag} must be an integer from ${min} to ${max} (got "${raw}")`);
    }
    return n;
  };
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The configuration from the environment (loaded with the command that needs it). */
async function configFromEnv(): Promise<FerryConfig> {
  return (await import('../service/config')).configFromEnv();
}

/**
 * The service, with the host's SecretBox (a key in the data folder, or MEGAFERRY_SECRET_KEY): the
 * secrets saved from the web UI's Settings are read by every command.
 */
type OpenOptions = Pick<FerryServiceOptions, 'resume' | 'work' | 'kind'>;

async function openService(config: FerryConfig, opts: OpenOptions): Promise<FerryService> {
  const [{ FerryService }, { keyFileSecretBox }] = await Promise.all([
    import('../service/ferry-service'),
    import('../service/key-file-box'),
  ]);
  return FerryService.open(config, { ...opts, secretBox: keyFileSecretBox(config.dataDir) });
}

async function withService<T>(
  config: FerryConfig,
  opts: OpenOptions & { needs?: DestinationKind | 'any' },
  fn: (service: FerryService) => Promise<T>,
): Promise<T> {
  const service = await openService(config, opts);
  try {
    // One clear line when nothing can be sent where the command sends (before any work).
    if (opts.needs === 'any') {
      if (!service.anyDestinationConfigured) service.requireDestination('mega');
    } else if (opts.needs) service.requireDestination(opts.needs);
    return await fn(service);
  } finally {
    await service.close();
  }
}

/** Follows batches to the end with progress output; Ctrl-C cancels them cleanly. */
async function follow(
  service: FerryService,
  batchIds: string[],
  json: boolean,
): Promise<{ interrupted: boolean }> {
  const ids = new Set(batchIds);
  const view = json ? null : await createProgressView(process.stderr, ids);
  const off = service.onEvent((e: FerryEvent) => view?.handle(e));
  let interrupted = false;
  const cancels: Promise<unknown>[] = [];
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write('\ninterrupted: cancelling…\n');
    for (const id of ids) cancels.push(service.cancelBatch(id).catch(() => undefined));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (view) {
      const files = [];
      for (const id of ids) files.push(...(await service.getBatch(id)).files);
      view.setFiles(files);
    }
    for (const id of ids) await service.manager.waitForBatch(id);
    await Promise.all(cancels); // a cancel started by a signal finishes before we report
  } finally {
    off();
    view?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return { interrupted };
}

/** Says how many workers can take the queued files (none online is worth knowing before a wait). */
async function sayWorkers(service: FerryService, json: boolean): Promise<void> {
  if (json) return;
  const { workers } = await service.listWorkers();
  const online = workers.filter((w) => w.kind === 'worker' && w.state !== 'gone');
  process.stderr.write(
    online.length === 0
      ? 'no worker is online yet: the files wait until `megaferry worker` runs on a machine with this MONGODB_URI\n'
      : `${online.length} worker${online.length === 1 ? '' : 's'} online: ${online.map((w) => w.name).join(', ')}\n`,
  );
}

function printSummary(status: BatchStatus): void {
  const bytes = status.files.reduce((n, f) => n + (f.status === 'done' ? (f.total_bytes ?? 0) : 0), 0);
  process.stdout.write(
    `${status.batch_id}: ${status.overall_status} — ${status.completed} done, ${status.failed} failed, ` +
      `${status.cancelled} cancelled, ${status.pending + status.transferring} unfinished of ${status.total_files} (${formatBytes(bytes)})\n`,
  );
  for (const f of status.files) {
    if (f.status !== 'done') {
      process.stdout.write(
        `  ${f.status.padEnd(18)} ${f.remote_key}${f.error_message ? ` — ${f.error_message}` : ''}\n`,
      );
    }
  }
}

function exitFor(statuses: BatchStatus[], interrupted: boolean): number {
  if (interrupted) return EXIT_INTERRUPTED;
  return statuses.every((s) => s.overall_status === 'completed') ? EXIT_OK : EXIT_FAILED;
}

/** The selection's totals over its batches, one line. */
function printSelectionSummary(statuses: BatchStatus[]): void {
  const sum = (pick: (s: BatchStatus) => number) => statuses.reduce((n, s) => n + pick(s), 0);
  process.stdout.write(
    `selection: ${statuses.length} batches — ${sum((s) => s.completed)} done, ${sum((s) => s.failed)} failed, ` +
      `${sum((s) => s.cancelled)} cancelled of ${sum((s) => s.total_files)}\n`,
  );
}

function chunk<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** `--bwlimit`: this process's limit, over MEGAFERRY_BWLIMIT and the saved setting. */
function applyBwLimit(config: FerryConfig, raw: unknown): void {
  if (raw === undefined) return;
  const problem = bwLimitProblem(String(raw));
  if (problem) throw new InputError(`--bwlimit: ${problem}`);
  config.fromEnv.settings['transfers.bwlimit'] = String(raw).trim();
}

/** The filters of the flags (--include, --exclude, --min-size, --max-size, --newer-than), or null. */
/**
 * Where a transfer sends its files: `--dest KIND:TARGET`, or `--target /Folder` (MEGA), or MEGA
 * and its saved default target. The target itself is checked by the service, with the batch.
 */
function destinationOf(opts: Record<string, unknown>): { kind: DestinationKind; target?: string } {
  if (opts.dest !== undefined && opts.target !== undefined) {
    throw new InputError('--target is --dest mega:<folder>: give one of --dest or --target');
  }
  if (opts.target !== undefined) return { kind: 'mega', target: String(opts.target) };
  if (opts.dest === undefined) return { kind: 'mega' };
  const parsed = parseDestinationSpec(String(opts.dest));
  if ('problem' in parsed) throw new InputError(parsed.problem);
  return parsed.target === '' ? { kind: parsed.kind } : parsed;
}

function filtersOf(opts: Record<string, unknown>): FiltersInput | null {
  const input: FiltersInput = {
    ...(opts.include ? { include: opts.include as string[] } : {}),
    ...(opts.exclude ? { exclude: opts.exclude as string[] } : {}),
    ...(opts.minSize !== undefined ? { min_size: String(opts.minSize) } : {}),
    ...(opts.maxSize !== undefined ? { max_size: String(opts.maxSize) } : {}),
    ...(opts.newerThan !== undefined ? { newer_than: String(opts.newerThan) } : {}),
  };
  if (Object.keys(input).length === 0) return null;
  const resolved = resolveFilters(input);
  if ('problem' in resolved)
    throw new InputError(
      resolved.problem.replace(/^filters\.(\w+)/, (_m, f: string) => `--${f.replace('_', '-')}`),
    );
  return input;
}

/** The summary after a transfer (stdout) and the `--report` file, when one is asked for. */
async function closeOut(
  statuses: BatchStatus[],
  opts: { json: boolean; report?: unknown; startedAt: number; refused?: { key: string; reason: string }[] },
): Promise<void> {
  const elapsedMs = Date.now() - opts.startedAt;
  if (!opts.json && statuses.length > 0) {
    process.stdout.write(summaryText(summarizeTransfer(statuses, { elapsedMs })));
  }
  if (opts.report !== undefined) {
    const file = String(opts.report);
    try {
      await writeReport(file, statuses, { elapsedMs, refused: opts.refused, bucket: statuses[0]?.bucket });
    } catch (err) {
      throw new InputError(`--report ${file}: ${(err as Error).message}`);
    }
    if (!opts.json) process.stderr.write(`report written to ${file}\n`);
  }
}

/**
 * The objects under a prefix when they are more than one batch may hold (they are then sent as
 * several batches of keys), with the keys no batch can take (no path inside the target) and why;
 * null when one batch of the prefix will do (it reports such keys itself) or the listing failed
 * (the batch start then says what is wrong — bucket, access — in its own words).
 */
async function selectPrefix(
  service: FerryService,
  bucket: string,
  prefix: string,
  cap: number,
  filters: FiltersInput | null,
): Promise<{ keys: { key: string }[]; refused: { key: string; reason: string }[] } | null> {
  const keys: { key: string }[] = [];
  const refused: { key: string; reason: string }[] = [];
  const resolved = filters ? resolveFilters(filters) : null;
  const taken = objectFilter(resolved && 'filters' in resolved ? resolved.filters : null);
  try {
    for await (const object of service.source.listAll(bucket, prefix)) {
      if (isFolderMarker(object.key, object.size)) continue;
      if (!taken(object)) continue;
      const problem = keyProblem(object.key);
      if (problem) refused.push({ key: object.key, reason: `object key ${problem}` });
      else keys.push({ key: object.key });
    }
  } catch {
    return null;
  }
  return keys.length + refused.length > cap ? { keys, refused } : null;
}

function buildProgram(): Command {
  const program = new Command();
  program
    .name('megaferry')
    .description(
      'Move files from S3 (or any S3-compatible store) into MEGA, MEGA S4 or a local folder, with one MongoDB document per file.',
    )
    .version(pkg.version)
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined });

  program
    .command('transfer')
    .description(
      'Copy objects from a bucket into MEGA (or MEGA S4, or a local folder: --dest) as one selection, in as many batches as the files-per-batch ' +
        'cap needs. Selection: the keys given, or a keys file ' +
        '(one key per line, or CSV with a "key" column and optional "code"), else every object under the prefix.',
    )
    .requiredOption('--bucket <name>', 'source bucket')
    .option('--prefix <prefix>', 'every object under this prefix (default: the whole bucket)')
    .option('--key <key>', 'an object key (repeatable)', collect)
    .option('--keys-file <file>', 'keys file: one key per line, or CSV with key[,code] columns')
    .option(
      '--dest <kind:target>',
      `where the files go: ${DESTINATIONS.map((d) => `${d.kind}:${d.targetExample}`).join(' | ')} ` +
        '(mega: a folder from the drive root; s4: bucket/prefix in MEGA S4; local: an absolute folder). ' +
        'Default: mega and its saved default target',
    )
    .option('--target <folder>', 'MEGA folder, from the drive root: the same as --dest mega:<folder>')
    .option(
      '--concurrency <n>',
      'files at once, 1 to the concurrency limit (default: the saved setting, or 3)',
    )
    .option(
      '--max-files <n>',
      'files per batch (default 50 or MEGAFERRY_MAX_FILES); a larger selection is split into batches of this size',
    )
    .option('--force', 'transfer again files already done (the old copy goes to the Rubbish Bin)', false)
    .option('--small-first', 'queue the smallest files first (else in the order selected)', false)
    .option(
      '--queue',
      'hand the files to the workers (`megaferry worker` on a shared MongoDB) and wait for them, with the usual bars and exit codes',
      false,
    )
    .option(
      '--no-wait',
      'hand the files to the workers and return at once, printing the batch (implies --queue)',
    )
    .option(
      '--include <glob>',
      'with a prefix: only objects matching this glob (repeatable; "*.jpg" matches names at any depth, "a/**" whole keys)',
      collect,
    )
    .option('--exclude <glob>', 'with a prefix: leave out objects matching this glob (repeatable)', collect)
    .option('--min-size <size>', 'with a prefix: only objects of at least this size (bytes, or 10K, 20M, 1G)')
    .option('--max-size <size>', 'with a prefix: only objects of at most this size')
    .option(
      '--newer-than <when>',
      'with a prefix: only objects modified since this date (2024-05-01) or within this age (12h, 7d, 2w)',
    )
    .option(
      '--dry-run',
      'change nothing: print what would happen (files and bytes to transfer, already done, in progress elsewhere, missing)',
      false,
    )
    .option(
      '--bwlimit <rate>',
      'bandwidth limit of this process: 20M (bytes a second), off, or a timetable "08:00,2M 19:00,off" (default: MEGAFERRY_BWLIMIT, or the saved setting)',
    )
    .option('--report <file>', "write every transfer's outcome to this file: JSON for a .json name, else CSV")
    .option(
      '--json',
      'print only the final batch status as JSON on stdout (a list of them when the selection took several batches)',
      false,
    )
    .action(async (opts: Record<string, unknown>) => {
      const startedAt = Date.now();
      const config = await configFromEnv();
      applyBwLimit(config, opts.bwlimit);
      const limit = config.engine.maxConcurrentLimit;
      const concurrency =
        opts.concurrency === undefined
          ? undefined
          : intOption('--concurrency', 1, limit)(String(opts.concurrency));
      if (opts.maxFiles !== undefined) {
        config.engine.maxFilesPerBatch = intOption('--max-files', 1, 100_000)(String(opts.maxFiles));
      }
      const keys = (opts.key as string[] | undefined) ?? [];
      const fileItems = opts.keysFile
        ? await (await import('./keys-file')).readKeysFile(String(opts.keysFile))
        : [];
      if ((keys.length || fileItems.length) && opts.prefix !== undefined) {
        throw new InputError('--prefix selects a whole folder: use it without --key or --keys-file');
      }
      const items = [...keys.map((key) => ({ key })), ...fileItems];
      // commander's --no-wait sets `wait` false (true by default).
      const noWait = opts.wait === false;
      const queue = Boolean(opts.queue) || noWait;
      const filters = filtersOf(opts);
      if (filters && items.length) {
        throw new InputError(
          '--include, --exclude, --min-size, --max-size and --newer-than filter a prefix: use them without --key or --keys-file',
        );
      }
      const where = destinationOf(opts);
      const base = {
        bucket: String(opts.bucket),
        destination: where.kind,
        ...(where.target === undefined ? {} : { target: where.target }),
        ...(concurrency === undefined ? {} : { max_concurrent: concurrency }),
        force: Boolean(opts.force),
        ...(queue ? { run: 'queue' as const } : {}),
        ...(opts.smallFirst ? { order: 'small_first' as const } : {}),
      };
      const json = Boolean(opts.json);
      // Handed to the workers: this process moves nothing, it starts (and maybe watches).
      const open: OpenOptions & { needs: DestinationKind } = queue
        ? { resume: false, needs: where.kind, work: 'none' }
        : { resume: false, needs: where.kind };
      const code = await withService(config, open, async (service) => {
        if (opts.dryRun) {
          // The whole selection's plan (no files-per-batch cap: nothing is started).
          const plan = await service.planBatch(
            items.length
              ? { ...base, items }
              : {
                  ...base,
                  prefix: (opts.prefix as string | undefined) ?? '',
                  ...(filters ? { filters } : {}),
                },
          );
          process.stdout.write(json ? JSON.stringify(plan, null, 2) + '\n' : planText([plan]));
          return EXIT_OK;
        }
        // One selection, in as many batches as the files-per-batch cap needs (SPEC.md).
        const cap = config.engine.maxFilesPerBatch;
        const listed = items.length
          ? null
          : await selectPrefix(service, base.bucket, (opts.prefix as string | undefined) ?? '', cap, filters);
        const selection = items.length ? items : (listed?.keys ?? null);
        const refused = listed?.refused ?? [];
        if (!json) for (const f of refused) process.stderr.write(`  not started: ${f.key} — ${f.reason}\n`);
        const parts = selection === null ? null : chunk(selection, cap);
        // The batches of one selection carry its id: every UI shows them as one.
        const selectionId = parts && parts.length > 1 ? newSelectionId() : undefined;
        const requests =
          parts === null
            ? [
                {
                  ...base,
                  prefix: (opts.prefix as string | undefined) ?? '',
                  ...(filters ? { filters } : {}),
                },
              ]
            : parts.map((part) => ({
                ...base,
                items: part,
                ...(selectionId ? { selection: selectionId } : {}),
              }));
        const started: BatchStarted[] = [];
        for (const request of requests) {
          const one = await service.startBatch(request);
          started.push(one);
          if (!json) {
            process.stderr.write(`${one.batch_id}: ${one.message}\n`);
            for (const f of one.failed_to_start)
              process.stderr.write(`  not started: ${f.remote_key} — ${f.reason}\n`);
          }
        }
        if (!json) {
          if (started.length > 1) {
            const total = started.reduce((n, b) => n + b.total_files, 0);
            process.stderr.write(
              `one selection of ${total} files in ${started.length} batches of at most ${cap}\n`,
            );
          }
          if (started.some((b) => b.already_done.length) && !base.force) {
            process.stderr.write('  files already done are not copied again; --force copies them anew\n');
          }
        }
        const ids = started.map((b) => b.batch_id);
        if (queue) await sayWorkers(service, json);
        if (noWait) {
          const statuses = await Promise.all(ids.map((id) => service.getBatch(id)));
          if (json)
            process.stdout.write(
              JSON.stringify(statuses.length === 1 ? statuses[0] : statuses, null, 2) + '\n',
            );
          else
            for (const id of ids)
              process.stdout.write(`${id}: queued for the workers; \`megaferry status ${id}\` shows it\n`);
          return EXIT_OK;
        }
        const { interrupted } = await follow(service, ids, json);
        const statuses = await Promise.all(ids.map((id) => service.getBatch(id)));
        // --json: the REST shape of the batch, or a list of them when the selection took several.
        if (json)
          process.stdout.write(
            JSON.stringify(statuses.length === 1 ? statuses[0] : statuses, null, 2) + '\n',
          );
        else {
          statuses.forEach(printSummary);
          if (statuses.length > 1) printSelectionSummary(statuses);
        }
        await closeOut(statuses, { json, report: opts.report, startedAt, refused });
        // Keys no batch could take failed as surely as a file that failed to start.
        const code = exitFor(statuses, interrupted);
        return code === EXIT_OK && refused.length ? EXIT_FAILED : code;
      });
      throw new ExitCode(code);
    });

  program
    .command('resume')
    .description(
      'Continue a paused batch (BATCH_ID), or every batch a crash, kill or pause left unfinished, and wait for them.',
    )
    .argument('[batch_id]', 'the paused batch to continue')
    .option('--file <code>', 'only this paused file of the batch (its code; repeatable)', collect)
    .option('--bwlimit <rate>', 'bandwidth limit of this process (as for transfer)')
    .option('--report <file>', "write every transfer's outcome to this file: JSON for a .json name, else CSV")
    .option('--json', 'print only the final batch statuses as JSON', false)
    .action(
      async (
        batchId: string | undefined,
        opts: { file?: string[]; json: boolean; bwlimit?: string; report?: string },
      ) => {
        if (opts.file && batchId === undefined)
          throw new InputError('resume --file needs the BATCH_ID of the files');
        const startedAt = Date.now();
        const config = await configFromEnv();
        applyBwLimit(config, opts.bwlimit);
        const code = await withService(
          config,
          { resume: batchId === undefined, needs: 'any' },
          async (service) => {
            let ids = service.resumed;
            if (batchId !== undefined && opts.file) {
              const r = await service.resumeFiles({ batch_id: batchId, codes: opts.file });
              if (!opts.json) process.stderr.write(`${r.batch_id}: ${r.message}\n`);
              ids = [r.batch_id];
            } else if (batchId !== undefined) {
              const r = await service.resumeBatch(batchId);
              if (!opts.json) process.stderr.write(`${r.batch_id}: ${r.message}\n`);
              ids = [r.batch_id];
            } else {
              // Paused transfers of the unfinished batches continue too.
              for (const id of ids) await service.resumeBatch(id).catch(() => undefined);
            }
            const { interrupted } = await follow(service, ids, opts.json);
            const statuses = await Promise.all(ids.map((id) => service.getBatch(id)));
            if (opts.json) process.stdout.write(JSON.stringify(statuses, null, 2) + '\n');
            else if (statuses.length === 0) process.stdout.write('nothing to resume\n');
            else statuses.forEach(printSummary);
            await closeOut(statuses, { json: opts.json, report: opts.report, startedAt });
            return exitFor(statuses, interrupted);
          },
        );
        throw new ExitCode(code);
      },
    );

  program
    .command('pause')
    .description(
      'Pause a batch (or some of its files, or every running batch), whichever process moves it: waiting files ' +
        'hold, moving ones stop within about a second and keep their checkpoint. `resume` continues them.',
    )
    .argument('[batch_id]', 'the batch to pause')
    .option('--file <code>', 'only this file of the batch (its code; repeatable)', collect)
    .option('--all', 'every running batch', false)
    .option('--json', 'print the answer as JSON', false)
    .action(async (batchId: string | undefined, opts: { file?: string[]; all: boolean; json: boolean }) => {
      if (opts.all === (batchId !== undefined) || (opts.all && opts.file)) {
        throw new InputError(
          'pause needs exactly one of BATCH_ID (with --file CODE to pause some files) or --all',
        );
      }
      await withService(await configFromEnv(), { resume: false }, async (service) => {
        const r = opts.all
          ? await service.pauseAll()
          : opts.file
            ? await service.pauseFiles({ batch_id: batchId, codes: opts.file })
            : await service.pauseBatch(batchId ?? '');
        const who = 'batch_id' in r ? `${r.batch_id}: ` : '';
        process.stdout.write(opts.json ? JSON.stringify(r, null, 2) + '\n' : `${who}${r.message}\n`);
      });
    });

  program
    .command('clear')
    .description(
      'Clear the finished batches from Transfers (every UI, and `status`); History keeps their files. --undo shows them again.',
    )
    .option('--undo', 'show the cleared batches again', false)
    .option('--json', 'print the answer as JSON', false)
    .action(async (opts: { undo: boolean; json: boolean }) => {
      await withService(await configFromEnv(), { resume: false }, async (service) => {
        const r = opts.undo ? await service.showCleared() : await service.clearFinished();
        process.stdout.write(opts.json ? JSON.stringify(r, null, 2) + '\n' : `${r.message}\n`);
      });
    });

  program
    .command('front')
    .description(
      "Move a batch's waiting files to the front of the queue (every process that moves files takes them next).",
    )
    .argument('<batch_id>', 'the batch to move')
    .option('--json', 'print the answer as JSON', false)
    .action(async (batchId: string, opts: { json: boolean }) => {
      await withService(await configFromEnv(), { resume: false }, async (service) => {
        const r = await service.moveBatchToFront(batchId);
        process.stdout.write(opts.json ? JSON.stringify(r, null, 2) + '\n' : `${r.batch_id}: ${r.message}\n`);
      });
    });

  program
    .command('cancel')
    .description(
      'Cancel a batch, whichever process moves it: nothing of it stays processing (within about two seconds).',
    )
    .argument('<batch_id>', 'the batch to cancel')
    .option('--json', 'print the answer as JSON', false)
    .action(async (batchId: string, opts: { json: boolean }) => {
      await withService(await configFromEnv(), { resume: false }, async (service) => {
        const r = await service.cancelBatch(batchId);
        process.stdout.write(opts.json ? JSON.stringify(r, null, 2) + '\n' : `${r.batch_id}: ${r.message}\n`);
      });
    });

  program
    .command('worker')
    .description(
      'Work the shared queue of a MongoDB store (MONGODB_URI): any pending transfer of any batch, with this ' +
        "machine's own S3 and MEGA credentials, until SIGTERM or Ctrl-C, which give its transfers back at once " +
        "(another worker continues them from their checkpoints). A killed worker's transfers are taken over when " +
        'its lease expires (MEGAFERRY_LEASE_MS, default 30000).',
    )
    .option('--concurrency <n>', 'transfers at once, 1 to 64 (default: MEGAFERRY_MAX_ACTIVE, or 6)')
    .option('--name <name>', 'how the Workers panel and the file rows name this worker (default: host/pid)')
    .action(async (opts: { concurrency?: string; name?: string }) => {
      const config = await configFromEnv();
      const concurrency =
        opts.concurrency === undefined ? undefined : intOption('--concurrency', 1, 64)(opts.concurrency);
      const name = opts.name?.trim();
      if (name !== undefined && (name.length === 0 || name.length > 64 || /[\p{Cc}]/u.test(name))) {
        throw new InputError('--name must be 1 to 64 characters without control characters');
      }
      const { workerCommand } = await import('./worker-command');
      throw new ExitCode(await workerCommand(config, { concurrency, name }));
    });

  program
    .command('serve')
    .description(
      'Run the headless host: the REST API, live events and the web UI (MEGAFERRY_HOST, MEGAFERRY_PORT, ' +
        "MEGAFERRY_TOKEN). Starts with nothing configured: accounts can be entered in the UI's Settings, " +
        'whose secrets are sealed with the key in <data folder>/secret.key (mode 0600) or MEGAFERRY_SECRET_KEY; ' +
        'environment variables win. Logs are human lines on a terminal, JSON otherwise (MEGAFERRY_LOG_FORMAT). ' +
        'Unfinished batches continue; Ctrl-C stops it and leaves them resumable.',
    )
    .action(async () => {
      const config = await configFromEnv();
      // No MEGA account is needed to start: the UI's Settings configure one, and until then every
      // transfer is refused with a message saying so.
      const service = await openService(config, { resume: true, kind: 'serve' });
      const [{ startHost }, { humanLogStream, logFormatFor }] = await Promise.all([
        import('../host/server'),
        import('../host/log-lines'),
      ]);
      // Human log lines on a terminal, JSON lines otherwise (MEGAFERRY_LOG_FORMAT chooses).
      const pretty = logFormatFor(process.stdout.isTTY) === 'pretty';
      let host;
      try {
        host = await startHost(service, {
          host: config.host.host,
          port: config.host.port,
          token: config.host.token ?? undefined,
          uiDir: fileURLToPath(new URL('../renderer', import.meta.url)),
          logLevel: process.env.MEGAFERRY_LOG_LEVEL,
          ...(pretty ? { logStream: humanLogStream(process.stdout) } : {}),
        });
      } catch (err) {
        await service.close();
        const code = (err as NodeJS.ErrnoException).code;
        throw new InputError(
          `cannot listen on ${config.host.host}:${config.host.port}${code ? ` (${code})` : ''}: set MEGAFERRY_HOST / MEGAFERRY_PORT (0 = any free port)`,
        );
      }
      process.stdout.write(`listening on ${host.url}\nUI: ${host.uiUrl}\n`);
      if (!service.megaConfigured) {
        process.stdout.write(
          'no MEGA account yet: open the UI and enter it in Settings (transfers wait for it); ' +
            'no accounts at hand? `npm run demo` is a sandbox\n',
        );
      }
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      process.stdout.write('stopping: unfinished transfers will resume at the next start\n');
      await host.close();
      await service.close();
    });

  program
    .command('status')
    .description(
      'Show one batch (per-file status) or, without an id, the recent batches (those cleared from Transfers only with --all).',
    )
    .argument('[batch_id]', 'a batch id (batch_…)')
    .option('--all', 'with the batches cleared from Transfers too', false)
    .option('--json', 'print JSON', false)
    .action(async (batchId: string | undefined, opts: { json: boolean; all: boolean }) => {
      await withService(await configFromEnv(), { resume: false }, async (service) => {
        if (batchId) {
          const status = await service.getBatch(batchId);
          if (opts.json) process.stdout.write(JSON.stringify(status, null, 2) + '\n');
          else {
            printSummary(status);
            if (status.summary && status.overall_status !== 'in_progress')
              process.stdout.write(summaryText(status.summary));
          }
        } else {
          const listed = await service.listBatches();
          const batches = opts.all ? listed : listed.filter((b) => !b.cleared);
          if (opts.json) process.stdout.write(JSON.stringify(batches, null, 2) + '\n');
          else if (batches.length === 0)
            process.stdout.write(
              listed.length
                ? 'no batches (the finished ones were cleared: --all shows them)\n'
                : 'no batches yet\n',
            );
          else {
            // One line over every running batch first (the UI's top bar), then each batch.
            const o = await service.getOverview();
            if (o.running_batches > 0) {
              process.stdout.write(
                `running: ${o.running_batches} batch${o.running_batches === 1 ? '' : 'es'} — ${o.done}/${o.files} done, ` +
                  `${o.transferring} transferring, ${o.pending} waiting, ${o.failed} failed, ${o.percent}%` +
                  `${o.speed > 0 ? `, ${formatBytes(o.speed)}/s` : ''}\n`,
              );
            }
            for (const b of batches) {
              process.stdout.write(
                `${b.batch_id}  ${b.created_at ?? ''}  ${b.overall_status.padEnd(11)} ${b.completed}/${b.total_files} done  ${b.bucket ?? ''} → ${b.target ?? ''}\n`,
              );
            }
          }
        }
      });
    });

  program
    .command('files')
    .description('List the file documents.')
    .addOption(new Option('--status <status>', 'only files with this status').choices([...FILE_STATUSES]))
    .option('--q <text>', 'search code, key or destination path')
    .option('--limit <n>', 'at most this many (1 to 1000)', '100')
    .option('--json', 'print JSON', false)
    .action(async (opts: { status?: string; q?: string; limit: string; json: boolean }) => {
      const limit = intOption('--limit', 1, 1000)(opts.limit);
      await withService(await configFromEnv(), { resume: false }, async (service) => {
        const page = await service.listFiles({ status: opts.status, q: opts.q, limit });
        if (opts.json) {
          process.stdout.write(JSON.stringify(page, null, 2) + '\n');
          return;
        }
        if (page.files.length === 0) process.stdout.write('no files\n');
        for (const f of page.files) {
          process.stdout.write(
            `${f.status.padEnd(18)} ${f.bucket_name}/${f.remote_key} → ${f.s4_key}` +
              `${f.retry_count ? ` (retries ${f.retry_count})` : ''}${f.error_message && f.status !== 'done' ? ` — ${f.error_message}` : ''}\n`,
          );
        }
      });
    });

  program
    .command('retry')
    .description(
      'Start again the failed and cancelled files of one batch (--batch) or of every batch (--failed).',
    )
    .option('--batch <batch_id>', 'the batch to retry')
    .option('--failed', 'every batch with failed or cancelled files', false)
    .option('--bwlimit <rate>', 'bandwidth limit of this process (as for transfer)')
    .option('--report <file>', "write every transfer's outcome to this file: JSON for a .json name, else CSV")
    .option('--json', 'print only the final batch statuses as JSON', false)
    .action(
      async (opts: { batch?: string; failed: boolean; json: boolean; bwlimit?: string; report?: string }) => {
        const startedAt = Date.now();
        if (Boolean(opts.batch) === opts.failed)
          throw new InputError('retry needs exactly one of --batch <batch_id> or --failed');
        const config = await configFromEnv();
        applyBwLimit(config, opts.bwlimit);
        const code = await withService(config, { resume: false, needs: 'any' }, async (service) => {
          let ids: string[];
          if (opts.batch) ids = [opts.batch];
          else
            ids = (await service.listBatches())
              .filter((b) => b.failed + b.cancelled > 0 && b.overall_status !== 'in_progress')
              .map((b) => b.batch_id);
          for (const id of ids) {
            const r = await service.retryBatch(id);
            if (!opts.json) process.stderr.write(`${id}: ${r.message}\n`);
          }
          const { interrupted } = await follow(service, ids, opts.json);
          const statuses = await Promise.all(ids.map((id) => service.getBatch(id)));
          if (opts.json) process.stdout.write(JSON.stringify(statuses, null, 2) + '\n');
          else if (ids.length === 0) process.stdout.write('nothing to retry\n');
          else statuses.forEach(printSummary);
          await closeOut(statuses, { json: opts.json, report: opts.report, startedAt });
          return exitFor(statuses, interrupted);
        });
        throw new ExitCode(code);
      },
    );

  program
    .command('verify')
    .description(
      'Download done files from their destination and check their bytes against the source (SHA-256): MEGA copies ' +
        "decrypted, with their MAC checked against MEGA's reference; S4 and local copies as stored. Records the " +
        'result on each file. Exit 1 on any mismatch.',
    )
    .option('--batch <batch_id>', 'the done files of this batch')
    .option('--all', 'every done file (the default)')
    .option('--sample <n>', 'check only N of them, picked at random')
    .option(
      '--repair',
      'send the files that do not match again, replacing them in place (the old copy goes to the Rubbish Bin), then check them again',
      false,
    )
    .option('--json', 'print only the report as JSON', false)
    .action(async (opts: Record<string, unknown>) => {
      const { verifyCommand } = await import('./verify-command');
      throw new ExitCode(await verifyCommand(opts));
    });

  return program;
}

function oneLine(message: string): string {
  return redactSecrets(message.replace(/^error:\s*/i, '').split('\n')[0] ?? message);
}

export async function main(argv: string[]): Promise<number> {
  quietNodeVersionWarning();
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    if (err instanceof ExitCode) return err.code;
    if (err instanceof CommanderError) {
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      ) {
        return EXIT_OK;
      }
      process.stderr.write(`megaferry: ${oneLine(err.message)} (see megaferry --help)\n`);
      return EXIT_INPUT;
    }
    // One table maps a failure's kind to its exit code (shared/error-kinds.ts), as to HTTP codes.
    const kind = apiErrorKind(err);
    const message = oneLine(redactSecrets(err instanceof Error ? err.message : String(err)));
    process.stderr.write(`megaferry: ${kind === 'unexpected' ? 'unexpected failure: ' : ''}${message}\n`);
    return ERROR_KIND_TABLE[kind].exit;
  }
}

const code = await main(process.argv.slice(2));
// megajs and the SDK keep sockets alive; everything is closed, so leave now.
process.exit(code);
