/**
 * The one contract of MegaFerry: schemas for statuses, batch requests and responses, settings and
 * events. IPC, HTTP and the CLI all validate against these and speak the inferred types.
 */
import { LANGUAGE_CHOICES, type LanguageChoice } from './i18n/languages';
import type { SourceProblem } from './source-problems';
// A namespace import: the bundlers keep only the parts of zod used here (`import { z }` keeps all of
// it, half of the contract's chunk in the CLI bundle).
import * as z from 'zod';
import { DEFAULT_MAX_CONCURRENT, FILE_STATUSES, LOCAL_BUCKET_PREFIX } from './constants';
import {
  BUCKET_NAME,
  BUCKET_NAME_RULE,
  MAX_KEY_BYTES,
  hasControlCharacters,
  keyProblem,
  prefixProblem,
  targetProblem,
} from './object-paths';
import { type TransferFilters, resolveFilters } from './filters';
import { BWLIMIT_RULE, bwLimitProblem } from './bwlimit';
import type { TransferSummary } from './transfer-summary';
import {
  DESTINATION_KINDS,
  DESTINATIONS,
  type DestinationKind,
  type DestinationOption,
  type DestinationView,
  declarationOf,
  defaultTargetOf,
  destinationTargetProblem,
  normalizeTarget,
} from './destinations';

// The plain values live in ./constants (no zod), so code that only names them loads no schemas.
export {
  DEFAULT_MAX_CONCURRENT,
  DEFAULT_MAX_FILES,
  FAILED_STATUSES,
  FILE_STATUSES,
  LOCAL_BUCKET_PREFIX,
  MAX_CONCURRENT_LIMIT,
  newSelectionId,
} from './constants';

/**
 * A schema built at its first use, then kept. zod does much of its work when a schema is made, and
 * a process pays for every schema built when this module loads: a CLI transfer checks one request,
 * `status` none. Schemas that only name a shape (responses, events) are never built at run time.
 */
function lazySchema<T>(make: () => T): () => T {
  let made: T | undefined;
  return () => (made ??= make());
}

export const fileStatusSchema = lazySchema(() => z.enum(FILE_STATUSES));
export type FileStatus = z.infer<ReturnType<typeof fileStatusSchema>>;

export const batchIdSchema = lazySchema(() =>
  z.string().regex(/^batch_[a-z0-9]+$/, 'batch_id must be "batch_" followed by lowercase letters or digits'),
);

/** A destination folder path; `field` names it in the message. */
export const targetSchema = (field: string) =>
  z.string({ error: `${field} must be a folder path starting with "/"` }).superRefine((target, ctx) => {
    const problem = targetProblem(target);
    if (problem) ctx.addIssue({ code: 'custom', message: `${field} ${problem}` });
  });

/** An object key that maps to a path inside the target (object-paths.ts). */
const objectKeySchema = (field: string) =>
  z.string({ error: `${field} must be object keys (strings)` }).superRefine((key, ctx) => {
    const problem = keyProblem(key);
    if (problem)
      ctx.addIssue({ code: 'custom', message: `${field} ${JSON.stringify(key.slice(0, 80))} ${problem}` });
  });

/** Free text of a bounded length without control characters (codes, searches, tokens). */
const plainText = (field: string, max: number) =>
  z
    .string({ error: `${field} must be a string` })
    .max(max, `${field} must be at most ${max} characters`)
    .refine((s) => !hasControlCharacters(s), { message: `${field} must not contain control characters` });

/** An S3 bucket name, or (desktop only, checked by the service) `local:` + an absolute folder. */
export const bucketSchema = lazySchema(() =>
  z
    .string({ error: `bucket is required (${BUCKET_NAME_RULE})` })
    .min(1, `bucket is required (${BUCKET_NAME_RULE})`)
    .refine(
      (b) =>
        BUCKET_NAME.test(b) ||
        (b.startsWith(LOCAL_BUCKET_PREFIX) && b.length <= 4096 && !hasControlCharacters(b)),
      { message: `bucket must be ${BUCKET_NAME_RULE}` },
    ),
);

const prefixSchema = lazySchema(() =>
  z
    .string({ error: 'prefix must be a string (an object key prefix such as "photos/")' })
    .superRefine((prefix, ctx) => {
      const problem = prefixProblem(prefix);
      if (problem) ctx.addIssue({ code: 'custom', message: `prefix ${problem}` });
    }),
);

export const batchItemSchema = lazySchema(() =>
  z.strictObject({
    key: objectKeySchema('items[].key'),
    code: plainText('items[].code', MAX_KEY_BYTES)
      .pipe(z.string().min(1, 'items[].code must not be empty'))
      .optional(),
  }),
);
export type BatchItem = z.infer<ReturnType<typeof batchItemSchema>>;

/** Who moves a batch's files: `here` the starting process (and peers), `queue` only workers. */
export const BATCH_RUN_MODES = ['here', 'queue'] as const;
export type BatchRunMode = (typeof BATCH_RUN_MODES)[number];

/** The order a batch's files are queued in: as selected (listed), or smallest first. */
export const BATCH_ORDERS = ['listed', 'small_first'] as const;
export type BatchOrder = (typeof BATCH_ORDERS)[number];

/** Filters of a folder or prefix selection (./filters.ts), resolved: sizes in bytes, dates absolute. */
export const filtersSchema = lazySchema(() =>
  z
    .strictObject({
      include: z.array(z.string({ error: 'filters.include must be a list of glob patterns' })).optional(),
      exclude: z.array(z.string({ error: 'filters.exclude must be a list of glob patterns' })).optional(),
      min_size: z.union([z.number(), z.string()], { error: 'filters.min_size must be a size' }).optional(),
      max_size: z.union([z.number(), z.string()], { error: 'filters.max_size must be a size' }).optional(),
      newer_than: z.string({ error: 'filters.newer_than must be a date or an age' }).optional(),
    })
    .transform((input, ctx): TransferFilters => {
      const r = resolveFilters(input);
      if ('problem' in r) {
        ctx.addIssue({ code: 'custom', message: r.problem });
        return z.NEVER;
      }
      return r.filters;
    }),
);

const SELECTION_RULE = 'selection must be "sel_" and 6 to 32 lowercase letters or digits';

/** Builds the batch request schema for the configured limits (settings may raise them). */
export function batchRequestSchema(limits: { maxConcurrent: number; maxFiles: number }) {
  return z
    .strictObject({
      bucket: bucketSchema(),
      keys: z.array(objectKeySchema('keys[]'), { error: 'keys must be a list of object keys' }).optional(),
      prefix: prefixSchema().optional(),
      items: z.array(batchItemSchema(), { error: 'items must be a list of { key, code? }' }).optional(),
      /** Where the files go (SPEC.md "Destinations"); the target's form depends on it. */
      destination: z
        .enum(DESTINATION_KINDS, { error: `destination must be one of ${DESTINATION_KINDS.join(', ')}` })
        .default('mega'),
      /** MEGA: a folder path ("/Backup"); S4: "bucket/prefix/"; local: an absolute folder path. */
      target: z.string({ error: TARGET_RULES }).optional(),
      max_concurrent: z
        .number({ error: `max_concurrent must be an integer from 1 to ${limits.maxConcurrent}` })
        .int(`max_concurrent must be an integer from 1 to ${limits.maxConcurrent}`)
        .min(1, `max_concurrent must be an integer from 1 to ${limits.maxConcurrent}`)
        .max(limits.maxConcurrent, `max_concurrent must be an integer from 1 to ${limits.maxConcurrent}`)
        .default(DEFAULT_MAX_CONCURRENT),
      force: z.boolean({ error: 'force must be true or false' }).default(false),
      selection: z
        .string({ error: SELECTION_RULE })
        .regex(/^sel_[a-z0-9]{6,32}$/, SELECTION_RULE)
        .optional(),
      /**
       * `here`: the process that starts the batch moves its files (with any other that works every
       * batch); `queue`: only `megaferry worker` processes do (SPEC.md "Processes and the store").
       */
      run: z
        .enum(BATCH_RUN_MODES, { error: `run must be one of ${BATCH_RUN_MODES.join(', ')}` })
        .default('here'),
      /** `small_first`: the batch's files are queued smallest first (else in the selection's order). */
      order: z
        .enum(BATCH_ORDERS, { error: `order must be one of ${BATCH_ORDERS.join(', ')}` })
        .default('listed'),
      /** Which of a prefix's objects the batch takes (folder and prefix selections). */
      filters: filtersSchema().optional(),
      /** Plan only: what would happen, nothing changed (REST answers 200 with a TransferPlan). */
      dry_run: z.boolean({ error: 'dry_run must be true or false' }).optional(),
    })
    .refine((r) => !(r.keys && r.items), {
      message: 'give either keys or items, not both',
      path: ['keys'],
    })
    .refine((r) => !((r.keys || r.items) && r.filters), {
      message: 'filters apply to a prefix (folder) selection: give them without keys or items',
      path: ['filters'],
    })
    .refine((r) => !((r.keys || r.items) && r.prefix), {
      message: 'prefix selects a whole folder: give it without keys or items',
      path: ['prefix'],
    })
    .transform((r, ctx) => {
      const kind = r.destination;
      const target = r.target ?? defaultTargetOf(kind);
      if (target.trim() === '') {
        ctx.addIssue({
          code: 'custom',
          path: ['target'],
          message: `target is required for destination ${kind}: ${declarationOf(kind).targetRule}`,
        });
        return z.NEVER;
      }
      const problem = destinationTargetProblem(kind, target.trim());
      if (problem) {
        ctx.addIssue({
          code: 'custom',
          path: ['target'],
          message: `target ${problem} (destination ${kind}: ${declarationOf(kind).targetRule})`,
        });
        return z.NEVER;
      }
      return { ...r, target: normalizeTarget(kind, target) };
    });
}

/** What a target is for each destination, in one line. */
const TARGET_RULES = `target must be ${DESTINATIONS.map((d) => `${d.targetRule} for ${d.kind}`).join('; ')}`;
export type BatchRequestInput = z.input<ReturnType<typeof batchRequestSchema>>;
export type BatchRequest = z.output<ReturnType<typeof batchRequestSchema>>;

export const failedToStartSchema = () =>
  z.object({
    code: z.string(),
    remote_key: z.string(),
    reason: z.string(),
  });
export type FailedToStart = z.infer<ReturnType<typeof failedToStartSchema>>;

export const batchStartedSchema = () =>
  z.object({
    batch_id: z.string(),
    status: z.literal('started'),
    message: z.string(),
    total_files: z.number().int(),
    started: z.array(z.string()),
    already_done: z.array(z.string()),
    /** Transfers another batch is moving (or holds paused): listed with that batch, not started twice. */
    already_in_progress: z.array(
      z.object({ code: z.string(), remote_key: z.string(), batch_id: z.string() }),
    ),
    failed_to_start: z.array(failedToStartSchema()),
  });
export type BatchStarted = z.infer<ReturnType<typeof batchStartedSchema>>;

/** What a plan (dry run) finds for one object of the selection. */
export const PLAN_OUTCOMES = ['transfer', 'already_done', 'in_progress', 'missing', 'refused'] as const;
export type PlanOutcome = (typeof PLAN_OUTCOMES)[number];

export interface PlanCount {
  files: number;
  /** Bytes of the files whose size is known. */
  bytes: number;
}

/**
 * A dry run of a batch request (`transfer --dry-run`, REST `"dry_run": true`, the UI's preview
 * before Start): what the selection holds and what would happen to each file. Nothing changes.
 */
export interface TransferPlan {
  dry_run: true;
  bucket: string;
  target: string;
  /** Where the files would go (`mega:<e-mail>`…). */
  destination: string;
  message: string;
  /** Everything selected (after the filters). */
  selected: PlanCount;
  to_transfer: PlanCount;
  /** Done at the same destination path already (sent again only with `force`). */
  already_done: PlanCount;
  /** Queued or moving in another batch: with those batches' ids. */
  in_progress: PlanCount & { batches: string[] };
  /** Named but not found in the bucket, or a key that cannot be a path inside the target. */
  missing: PlanCount;
  /** Objects under the prefix the filters left out. */
  filtered_out: PlanCount;
  files: {
    code: string;
    remote_key: string;
    s4_key: string;
    size: number | null;
    plan: PlanOutcome;
    batch_id?: string;
    reason?: string;
  }[];
}

export const OVERALL_STATUSES = ['in_progress', 'completed', 'failed', 'partial', 'cancelled'] as const;
export type OverallStatus = (typeof OVERALL_STATUSES)[number];

export const fileProgressSchema = () =>
  z.object({
    code: z.string(),
    bucket_name: z.string(),
    remote_key: z.string(),
    s4_key: z.string(),
    status: fileStatusSchema(),
    progress: z.number(),
    transferred_bytes: z.number(),
    total_bytes: z.number().nullable(),
    speed: z.number(),
    eta_seconds: z.number().nullable(),
    retry_count: z.number().int(),
    error_message: z.string().nullable(),
    mega_link: z.string().nullable().optional(),
    /** An item another batch is moving: that batch's id (this batch shows it, counts it apart). */
    in_batch: z.string().nullable().optional(),
    /** The name of the process moving the file now (a worker's `--name`, or host and pid). */
    worker: z.string().nullable().optional(),
    /** Already done at this destination path when the batch started: not sent again. */
    skipped: z.boolean().optional(),
  });
export type FileProgress = z.infer<ReturnType<typeof fileProgressSchema>>;

export const batchStatusSchema = () =>
  z.object({
    batch_id: z.string(),
    total_files: z.number().int(),
    completed: z.number().int(),
    transferring: z.number().int(),
    pending: z.number().int(),
    failed: z.number().int(),
    cancelled: z.number().int(),
    overall_status: z.enum(OVERALL_STATUSES),
    created_at: z.string().optional(),
    /** When the batch ended (ISO date); null while it runs. */
    finished_at: z.string().nullable().optional(),
    target: z.string().optional(),
    /** Where the batch sends its files (`mega:<e-mail>`, `s4:<host>/<bucket>`, `local:<folder>`). */
    destination: z.string().optional(),
    bucket: z.string().optional(),
    /** The selection this batch is part of, when one selection was split into several batches. */
    selection: z.string().nullable().optional(),
    /** `queue`: the batch was handed to the workers. */
    run: z.enum(BATCH_RUN_MODES).optional(),
    /** Cleared from Transfers (it has ended; its files stay in History). */
    cleared: z.boolean().optional(),
    /** Done / failed / skipped, bytes, elapsed, average speed, failures (GET /api/batches/{id}). */
    summary: z.custom<TransferSummary>(() => true).optional(),
    files: z.array(fileProgressSchema()),
  });
export type BatchStatus = z.infer<ReturnType<typeof batchStatusSchema>>;

export const batchCancelledSchema = () =>
  z.object({
    status: z.literal('cancelled'),
    message: z.string(),
    batch_id: z.string(),
    cancelled_transfers: z.number().int(),
    total_files: z.number().int(),
  });
export type BatchCancelled = z.infer<ReturnType<typeof batchCancelledSchema>>;

/** Some files of a batch, by their codes (pause or resume them). */
export const filesControlSchema = lazySchema(() =>
  z.strictObject({
    batch_id: z.string({ error: 'batch_id is required ("batch_" and lowercase letters or digits)' }),
    codes: z
      .array(plainText('codes[]', MAX_KEY_BYTES), { error: 'codes must be a list of file codes' })
      .min(1, 'codes: give at least one file code')
      .max(10_000, 'codes: at most 10000 file codes at once'),
  }),
);

export const filesQuerySchema = lazySchema(() =>
  z.strictObject({
    status: z.enum(FILE_STATUSES, { error: `status must be one of ${FILE_STATUSES.join(', ')}` }).optional(),
    q: plainText('q', 1024).optional(),
    limit: z.coerce
      .number({ error: 'limit must be an integer from 1 to 1000' })
      .int('limit must be an integer from 1 to 1000')
      .min(1, 'limit must be an integer from 1 to 1000')
      .max(1000, 'limit must be an integer from 1 to 1000')
      .default(100),
    cursor: plainText('cursor', 2048).optional(),
  }),
);
export type FilesQuery = z.output<ReturnType<typeof filesQuerySchema>>;

export const s3ObjectsQuerySchema = lazySchema(() =>
  z.strictObject({
    bucket: bucketSchema(),
    prefix: prefixSchema().default(''),
    token: plainText('token', 4096).optional(),
    limit: z.coerce
      .number({ error: 'limit must be an integer from 1 to 1000' })
      .int('limit must be an integer from 1 to 1000')
      .min(1, 'limit must be an integer from 1 to 1000')
      .max(1000, 'limit must be an integer from 1 to 1000')
      .default(1000),
  }),
);
export type S3ObjectsQuery = z.output<ReturnType<typeof s3ObjectsQuerySchema>>;

export interface S3ObjectEntry {
  key: string;
  size: number;
  last_modified: string | null;
}

export interface S3ObjectsPage {
  bucket: string;
  prefix: string;
  /** Common prefixes, each ending with "/". */
  folders: string[];
  objects: S3ObjectEntry[];
  next_token: string | null;
}

/** Events the engine emits; the host forwards them as SSE and the desktop over IPC. */
export type FerryEvent =
  | { type: 'progress'; batch_id: string; file: FileProgress }
  | { type: 'file'; batch_id: string; file: FileProgress }
  | { type: 'batch'; batch_id: string; overall_status: OverallStatus; state: BatchState }
  /**
   * A destination's queue waits (MEGA refused more data: over its storage or transfer quota) until
   * `retry_at`, or goes on again (`reason` and `retry_at` null).
   */
  | { type: 'hold'; destination: string; reason: string | null; retry_at: string | null };

export const BATCH_STATES = ['running', 'finished', 'cancelled'] as const;
export type BatchState = (typeof BATCH_STATES)[number];

/**
 * Turns a zod error into one line that names the field and what is allowed, e.g.
 * `max_concurrent: max_concurrent must be an integer from 1 to 5`.
 */
export function describeZodError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid input';
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    return `unknown field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}`;
  }
  const message = issue.message;
  // Messages written here already name their field ("keys[] …", "items[].key …").
  if (!path || message.startsWith(path) || message.startsWith(`${String(issue.path[0])}[]`)) return message;
  return `${path}: ${message}`;
}

// ---------------------------------------------------------------------------------------------
// Settings (SPEC.md "Configuration" and "Desktop application"). The desktop Settings screen and
// the headless host's read the same shape. Secrets (S3 secret key, MEGA password, a MongoDB URI
// with credentials) are write-only: the view tells whether one is set, never what it is.
// ---------------------------------------------------------------------------------------------

const optionalText = (field: string, what: string) =>
  z
    .string({ error: `${field} must be ${what}` })
    .max(2048, `${field} must be ${what} (at most 2048 characters)`)
    .refine((v) => !hasControlCharacters(v), {
      message: `${field} must be ${what}, without control characters`,
    })
    .transform((v) => v.trim())
    .optional();

/** Builds the settings patch schema for the configured concurrency bound (settings may raise it). */
export function settingsPatchSchema(limits: { maxConcurrent: number }) {
  const concurrency = `transfers.max_concurrent must be an integer from 1 to ${limits.maxConcurrent}`;
  return z.strictObject({
    s3: z
      .strictObject({
        endpoint: optionalText('s3.endpoint', 'an http(s) URL, or empty for AWS').refine(
          (v) => v === undefined || v === '' || /^https?:\/\/[^\s]+$/.test(v),
          { message: 's3.endpoint must be an http(s) URL, or empty for AWS' },
        ),
        region: optionalText('s3.region', 'an AWS region name such as us-east-1'),
        profile: optionalText('s3.profile', 'an AWS profile name, or empty'),
        access_key_id: optionalText('s3.access_key_id', 'an access key id, or empty for the SDK chain'),
        /** Write-only; empty string clears it. */
        secret_access_key: optionalText('s3.secret_access_key', 'a secret access key, or empty'),
        force_path_style: z.boolean({ error: 's3.force_path_style must be true or false' }).optional(),
        default_bucket: optionalText('s3.default_bucket', `${BUCKET_NAME_RULE}, or empty`).refine(
          (v) => v === undefined || v === '' || BUCKET_NAME.test(v),
          { message: `s3.default_bucket must be ${BUCKET_NAME_RULE}, or empty` },
        ),
      })
      .optional(),
    ...destinationPatchSchemas(),
    mongodb: z
      .strictObject({
        /** Write-only when it holds credentials; empty string selects the embedded store. */
        uri: z
          .string({ error: 'mongodb.uri must be a connection string, or empty for the embedded store' })
          .max(4096, 'mongodb.uri must be at most 4096 characters')
          .refine((v) => !hasControlCharacters(v), {
            message: 'mongodb.uri must not contain control characters',
          })
          .transform((v) => v.trim())
          .pipe(
            z
              .string()
              .regex(
                /^((mongodb|mongodb\+srv):\/\/.+)?$/,
                'mongodb.uri must start with "mongodb://" or "mongodb+srv://", or be empty for the embedded store',
              ),
          )
          .optional(),
      })
      .optional(),
    transfers: z
      .strictObject({
        max_concurrent: z
          .number({ error: concurrency })
          .int(concurrency)
          .min(1, concurrency)
          .max(limits.maxConcurrent, concurrency)
          .optional(),
        connections_per_file: z
          .number({ error: 'transfers.connections_per_file must be an integer from 1 to 16' })
          .int('transfers.connections_per_file must be an integer from 1 to 16')
          .min(1, 'transfers.connections_per_file must be an integer from 1 to 16')
          .max(16, 'transfers.connections_per_file must be an integer from 1 to 16')
          .optional(),
        /** The process's bandwidth limit: "20M", "off" or "", or a timetable "08:00,2M 19:00,off". */
        bwlimit: z
          .string({ error: `transfers.bwlimit must be ${BWLIMIT_RULE}` })
          .max(1024, 'transfers.bwlimit must be at most 1024 characters')
          .transform((v) => v.trim())
          .superRefine((v, ctx) => {
            const problem = v === '' ? null : bwLimitProblem(v);
            if (problem) ctx.addIssue({ code: 'custom', message: `transfers.bwlimit: ${problem}` });
          })
          .optional(),
      })
      .optional(),
    ui: z
      .strictObject({
        language: z
          .enum(LANGUAGE_CHOICES, { error: `ui.language must be one of ${LANGUAGE_CHOICES.join(', ')}` })
          .optional(),
      })
      .optional(),
  });
}

/** One option of a destination in a settings patch, checked by its declared input (shared/destinations.ts). */
function optionSchema(kind: DestinationKind, option: DestinationOption): z.ZodType<string | undefined> {
  const field = `${kind}.${option.name}`;
  switch (option.input) {
    case 'one_time':
      return z
        .string({ error: `${field} must be ${option.rule}` })
        .regex(/^(\d{6})?$/, `${field} must be ${option.rule}`)
        .optional();
    case 'url':
      return optionalText(field, `${option.rule}, or empty`).refine(
        (v) => v === undefined || v === '' || /^https?:\/\/[^\s]+$/.test(v),
        { message: `${field} must be ${option.rule}, or empty` },
      );
    case 'target':
      if (kind === 'mega') return targetSchema(field).optional();
      return optionalText(field, `${option.rule}, or empty`).superRefine((v, ctx) => {
        const problem = v ? destinationTargetProblem(kind, v) : null;
        if (problem) ctx.addIssue({ code: 'custom', message: `${field} ${problem}` });
      });
    default:
      return optionalText(field, option.input === 'secret' ? `${option.rule}, or empty` : option.rule);
  }
}

/** Each registered destination's section of a settings patch, derived from its options. */
function destinationPatchSchemas(): Record<
  DestinationKind,
  z.ZodOptional<z.ZodType<Record<string, string | undefined>>>
> {
  return Object.fromEntries(
    DESTINATIONS.map((d) => [
      d.kind,
      z
        .strictObject(
          Object.fromEntries(
            (d.options as readonly DestinationOption[]).map((o) => [o.name, optionSchema(d.kind, o)]),
          ),
        )
        .optional(),
    ]),
  ) as unknown as Record<DestinationKind, z.ZodOptional<z.ZodType<Record<string, string | undefined>>>>;
}
export type SettingsPatch = z.infer<ReturnType<typeof settingsPatchSchema>>;

/**
 * What getSettings returns: every setting but the secrets, which are only said to be set. Each
 * registered destination has a section of its options (`mega`, `s4`, `local`).
 */
export type SettingsView = CoreSettingsView & { [K in DestinationKind]: DestinationView<K> };

interface CoreSettingsView {
  s3: {
    endpoint: string;
    region: string;
    profile: string;
    access_key_id: string;
    has_secret_access_key: boolean;
    force_path_style: boolean;
    default_bucket: string;
  };
  /** `uri_redacted`: the URI with any password replaced by `***`; empty for the embedded store. */
  mongodb: { uri_redacted: string; store: 'mongodb' | 'embedded' };
  transfers: {
    max_concurrent: number;
    max_concurrent_limit: number;
    connections_per_file: number;
    /** Files one batch may hold (MEGAFERRY_MAX_FILES): a larger selection is split into batches. */
    max_files_per_batch: number;
    /** The bandwidth limit of the process serving this UI, as typed ('' = off; MEGAFERRY_BWLIMIT). */
    bwlimit: string;
  };
  /** The language of the UI, the tray and the notifications (`system`: the system's). */
  ui: { language: LanguageChoice };
  /** Dotted names of settings fixed by environment variables (shown read-only). */
  locked: string[];
  /**
   * Where saved secrets go, sealed: the OS keychain (desktop), the headless host's key file in the
   * data folder (`key_file`) or MEGAFERRY_SECRET_KEY (`env_key`); `environment`: nowhere (secrets
   * come from environment variables only).
   */
  secret_storage: 'keychain' | 'key_file' | 'env_key' | 'environment';
}

export const CONNECTION_TARGETS = ['s3', ...DESTINATION_KINDS, 'mongodb'] as const;
/** Builds the connection test schema for the configured concurrency bound (as settingsPatchSchema). */
export function connectionTestSchema(limits: { maxConcurrent: number }) {
  return z.strictObject({
    target: z.enum(CONNECTION_TARGETS, { error: `target must be one of ${CONNECTION_TARGETS.join(', ')}` }),
    /** Unsaved edits to try instead of the saved settings. */
    draft: settingsPatchSchema(limits).optional(),
  });
}
export type ConnectionTest = z.infer<ReturnType<typeof connectionTestSchema>>;

export interface ConnectionTestResult {
  target: (typeof CONNECTION_TARGETS)[number];
  ok: boolean;
  /** e.g. "3 buckets visible", "logged in as a@b.c", or the reason it failed (never a secret). */
  message: string;
  /**
   * S3 only, for the UI to say it in its language: the buckets listed (null when the list failed,
   * with `problem`), and the default bucket's own check when one is set.
   */
  s3?: {
    buckets: number | null;
    problem?: SourceProblem;
    default_bucket?: { name: string; ok: boolean; problem?: SourceProblem };
  };
}
