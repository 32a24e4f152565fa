/**
 * Transfers: every batch, newest first, with an overall bar and counts; expandable file rows with
 * their own bars, speed, ETA, status and MEGA link. Each row subscribes to its own file only.
 */
import { memo, useEffect, useMemo, useState } from 'react';
import { Trans, useTranslation } from 'react-i18next';
import { useShallow } from 'zustand/react/shallow';
import { api, errorText } from '../api';
import { CopyLocation } from '../components/CopyLocation';
import { copyLocation, destinationRoute } from '../../../shared/destinations';
import { ProgressBar } from '../components/ProgressBar';
import { BatchEndSummary } from '../components/BatchEndSummary';
import { OverallProgress } from '../components/OverallProgress';
import {
  fileStatusLabel,
  fileStatusTone,
  formatBytes,
  formatDate,
  formatEta,
  formatList,
  formatPercent,
  formatSpeed,
  overallStatusLabel,
  overallStatusTone,
} from '../format';
import { useApp, useOffline } from '../stores/app';
import { overallOfSelection } from '../../../shared/batch-counts';
import {
  batchPercent,
  groupBySelection,
  selectionPercent,
  useTransfers,
  type StartOutcome,
} from '../stores/transfers';

function StartReport({ outcomes }: { outcomes: StartOutcome[] }) {
  const { t } = useTranslation();
  const setLastStart = useTransfers((s) => s.setLastStart);
  const failedRequests = outcomes.filter((o) => !o.ok).length;
  const started = outcomes.reduce((n, o) => n + (o.ok ? o.result.started.length : 0), 0);
  const already = outcomes.reduce((n, o) => n + (o.ok ? o.result.already_done.length : 0), 0);
  const failed = outcomes.flatMap((o) => (o.ok ? o.result.failed_to_start : []));
  const tone = failedRequests > 0 || failed.length > 0 ? 'warn' : 'ok';
  return (
    <section className={`banner banner--${tone} start-report`} aria-label={t('startReport.label')}>
      <div>
        <strong>
          {t('startReport.summary', { started, already, failed: failed.length })}
          {failedRequests > 0 && t('startReport.refused', { count: failedRequests })}
        </strong>
        <ul className="start-report__list">
          {outcomes.map((o, i) =>
            o.ok ? (
              <li key={`${o.result.batch_id}-${i}`}>
                <code>{o.result.batch_id}</code> —{' '}
                {t('startReport.batch', {
                  label: o.label,
                  count: o.result.total_files,
                  started: o.result.started.length,
                  already: o.result.already_done.length,
                  failed: o.result.failed_to_start.length,
                })}
                {o.result.already_done.length > 0 && (
                  <div className="muted">
                    {t('startReport.alreadyDone', { keys: formatList(o.result.already_done, 8) })}
                  </div>
                )}
                {o.result.failed_to_start.length > 0 && (
                  <ul>
                    {o.result.failed_to_start.slice(0, 20).map((f) => (
                      <li key={f.remote_key} className="text-bad">
                        {f.remote_key}: {f.reason}
                      </li>
                    ))}
                  </ul>
                )}
              </li>
            ) : (
              <li key={`failed-${i}`} className="text-bad">
                {t('startReport.failedToStart', { label: o.label, error: o.error })}
              </li>
            ),
          )}
        </ul>
      </div>
      <button
        type="button"
        className="icon-button"
        aria-label={t('startReport.dismiss')}
        onClick={() => setLastStart(null)}
      >
        ×
      </button>
    </section>
  );
}

/** Pause or resume one file of a running batch (not one another batch moves, nor one skipped). */
function FileAction({
  batchId,
  code,
  status,
  label,
}: {
  batchId: string;
  code: string;
  status: string;
  label: string;
}) {
  const { t } = useTranslation();
  const busy = useTransfers((s) => !!s.busy[batchId]);
  const offline = useOffline();
  const act = (what: 'pause' | 'resume') => {
    const run = what === 'pause' ? useTransfers.getState().pause : useTransfers.getState().resume;
    void run(batchId, [code]).catch((err: unknown) =>
      useApp.getState().notify('error', t('batch.label', { id: batchId }), errorText(err)),
    );
  };
  if (status === 'paused') {
    return (
      <button
        type="button"
        className="button button--ghost button--small"
        aria-label={t('batch.resumeFileLabel', { key: label })}
        disabled={busy || offline}
        onClick={() => act('resume')}
      >
        {t('batch.resumeFile')}
      </button>
    );
  }
  if (status !== 'pending' && status !== 'processing') return null;
  return (
    <button
      type="button"
      className="button button--ghost button--small"
      aria-label={t('batch.pauseFileLabel', { key: label })}
      disabled={busy || offline}
      onClick={() => act('pause')}
    >
      {t('batch.pauseFile')}
    </button>
  );
}

const FileRow = memo(function FileRow({ id, batchId }: { id: string; batchId: string }) {
  const { t } = useTranslation();
  const f = useTransfers((s) => s.files[id]);
  const running = useTransfers((s) => s.batches[batchId]?.overall_status === 'in_progress');
  const destination = useTransfers((s) => s.batches[batchId]?.destination);
  if (!f) return null;
  const location = f.status === 'done' && destination ? copyLocation(destination, f.s4_key) : null;
  const tone = fileStatusTone(f.status);
  const progress = f.status === 'done' ? 100 : f.progress;
  const active = f.status === 'processing';
  return (
    <tr className={`frow frow--${tone}`}>
      <td className="frow__file">
        <div className="truncate" title={f.remote_key}>
          {f.remote_key}
        </div>
        <div className="muted small truncate" title={f.s4_key}>
          → {f.s4_key}
        </div>
        {f.error_message && (
          <div className={`small ${f.status === 'cancelled' ? 'muted' : 'text-bad'}`}>{f.error_message}</div>
        )}
      </td>
      <td className="frow__bar" data-label={t('batch.progress')}>
        <ProgressBar value={progress} label={f.remote_key} tone={tone} />
        <div className="small muted">
          {f.total_bytes !== null
            ? t('batch.movedOf', {
                percent: formatPercent(progress),
                moved: formatBytes(f.transferred_bytes),
                total: formatBytes(f.total_bytes),
              })
            : t('batch.moved', { percent: formatPercent(progress), moved: formatBytes(f.transferred_bytes) })}
        </div>
      </td>
      <td className="num" data-label={t('batch.speed')}>
        {active ? formatSpeed(f.speed) : '—'}
      </td>
      <td className="num" data-label={t('batch.eta')}>
        {active ? formatEta(f.eta_seconds) : '—'}
      </td>
      <td data-label={t('batch.status')}>
        <span className={`badge tone-${tone}`}>{fileStatusLabel(f.status)}</span>
        {active && f.worker && <div className="small muted">{t('batch.worker', { name: f.worker })}</div>}
        {running && !f.in_batch && !f.skipped && (
          <FileAction batchId={batchId} code={f.code} status={f.status} label={f.remote_key} />
        )}
      </td>
      <td className="num" data-label={t('batch.retries')}>
        {f.retry_count}
      </td>
      <td className={f.mega_link || location ? undefined : 'is-empty'}>
        {f.mega_link ? (
          <a
            href={f.mega_link}
            target="_blank"
            rel="noreferrer"
            aria-label={t('batch.openInMegaLabel', { key: f.remote_key })}
          >
            {t('batch.openInMega')}
          </a>
        ) : location ? (
          <CopyLocation location={location} label={f.remote_key} />
        ) : null}
      </td>
    </tr>
  );
});

/** A batch's (or a selection's) counts: done of total, transferring, pending, failed, cancelled. */
function Counts(c: {
  done: number;
  total: number;
  transferring: number;
  pending: number;
  failed: number;
  cancelled: number;
}) {
  const b = <b />;
  return (
    <div className="counts">
      <span>
        <Trans i18nKey="batch.done" values={{ done: c.done, total: c.total }} components={{ b }} />
      </span>
      <span className={c.transferring ? 'tone-text-active' : ''}>
        <Trans i18nKey="batch.transferring" values={{ count: c.transferring }} components={{ b }} />
      </span>
      <span>
        <Trans i18nKey="batch.pending" values={{ count: c.pending }} components={{ b }} />
      </span>
      <span className={c.failed ? 'text-bad' : ''}>
        <Trans i18nKey="batch.failed" values={{ count: c.failed }} components={{ b }} />
      </span>
      <span>
        <Trans i18nKey="batch.cancelled" values={{ count: c.cancelled }} components={{ b }} />
      </span>
    </div>
  );
}

function BatchCard({ id }: { id: string }) {
  const { t } = useTranslation();
  const batch = useTransfers((s) => s.batches[id]);
  const percent = useTransfers((s) => (s.batches[id] ? batchPercent(s.batches[id], s.files) : 0));
  const expanded = useTransfers((s) => !!s.expanded[id]);
  const busy = useTransfers((s) => !!s.busy[id]);
  // Which of its own files (not another batch's, not skipped) wait, move or are paused.
  const waiting = useTransfers(
    useShallow((s) => {
      const found = { pending: false, processing: false, paused: false };
      for (const fid of s.batches[id]?.fileIds ?? []) {
        const f = s.files[fid];
        if (!f || f.in_batch || f.skipped) continue;
        if (f.status === 'pending' || f.status === 'processing' || f.status === 'paused')
          found[f.status] = true;
      }
      return found;
    }),
  );
  const offline = useOffline();
  const current = useApp((s) => s.batch === id);
  const [error, setError] = useState<string | null>(null);
  if (!batch) return null;
  const { toggleExpanded, cancel, retry, pause, resume, toFront } = useTransfers.getState();
  const running = batch.overall_status === 'in_progress';
  const canPause = running && (waiting.pending || waiting.processing);
  const canResume = running && waiting.paused;
  const canFront = running && waiting.pending;
  const tone = overallStatusTone(batch.overall_status);
  const canRetry = !running && batch.failed + batch.cancelled > 0;
  const act = async (what: () => Promise<void>) => {
    setError(null);
    try {
      await what();
    } catch (err) {
      setError(errorText(err));
      useApp.getState().notify('error', t('batch.label', { id }), errorText(err));
    }
  };
  const filesId = `files-${id}`;
  return (
    <li
      className={`batch${current ? ' is-current' : ''}`}
      aria-label={t('batch.label', { id })}
      aria-current={current ? 'true' : undefined}
      id={`batch-${id}`}
    >
      <div className="batch__head">
        <button
          type="button"
          className="batch__toggle"
          aria-expanded={expanded}
          aria-controls={filesId}
          onClick={() => {
            toggleExpanded(id);
            // The batch one opened is the one a reload comes back to.
            useApp.getState().setBatch(expanded ? null : id);
          }}
        >
          <span className={`chevron${expanded ? ' is-open' : ''}`} aria-hidden="true">
            ›
          </span>
          <span className="batch__title">
            <span className="batch__id">{id}</span>
            <span className="muted small">
              {t('batch.route', {
                bucket: batch.bucket ?? t('batch.unknownBucket'),
                target: destinationRoute((kind) => t(`destinations.${kind}`), batch),
              })}
              {batch.created_at ? ` · ${formatDate(batch.created_at)}` : ''}
            </span>
          </span>
        </button>
        {batch.run === 'queue' && (
          <span className="pill" title={t('batch.toWorkersHint')}>
            {t('batch.toWorkers')}
          </span>
        )}
        <span className={`badge tone-${tone}`}>{overallStatusLabel(batch.overall_status)}</span>
        <div className="batch__actions">
          {canFront && (
            <button
              type="button"
              className="button button--ghost button--small"
              title={t('batch.frontHint')}
              disabled={busy || offline}
              onClick={() => void act(() => toFront(id))}
            >
              {t('batch.front')}
            </button>
          )}
          {canPause && (
            <button
              type="button"
              className="button button--small"
              disabled={busy || offline}
              onClick={() => void act(() => pause(id))}
            >
              {t('batch.pause')}
            </button>
          )}
          {canResume && (
            <button
              type="button"
              className="button button--small"
              disabled={busy || offline}
              onClick={() => void act(() => resume(id))}
            >
              {t('batch.resume')}
            </button>
          )}
          {running && (
            <button
              type="button"
              className="button button--small"
              disabled={busy || offline}
              onClick={() => void act(() => cancel(id))}
            >
              {t('batch.cancel')}
            </button>
          )}
          {canRetry && (
            <button
              type="button"
              className="button button--small"
              disabled={busy || offline}
              onClick={() => void act(() => retry(id))}
            >
              {t('batch.retry')}
            </button>
          )}
        </div>
      </div>
      <div className="batch__progress">
        <ProgressBar value={percent} label={t('batch.label', { id })} tone={tone} size="large" />
        <span className="batch__pct">{formatPercent(percent)}</span>
      </div>
      <Counts
        done={batch.completed}
        total={batch.total_files}
        transferring={batch.transferring}
        pending={batch.pending}
        failed={batch.failed}
        cancelled={batch.cancelled}
      />
      <BatchEndSummary id={id} />
      {error && (
        <p className="text-bad small" role="alert">
          {error}
        </p>
      )}
      {expanded && (
        <div id={filesId} className="table-wrap">
          <table className="table files-table">
            <caption className="sr-only">{t('batch.filesCaption', { id })}</caption>
            <thead>
              <tr>
                <th scope="col">{t('batch.file')}</th>
                <th scope="col">{t('batch.progress')}</th>
                <th scope="col" className="num">
                  {t('batch.speed')}
                </th>
                <th scope="col" className="num">
                  {t('batch.eta')}
                </th>
                <th scope="col">{t('batch.status')}</th>
                <th scope="col" className="num">
                  {t('batch.retries')}
                </th>
                <th scope="col">
                  <span className="sr-only">{t('batch.link')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {batch.fileIds.map((fid) => (
                <FileRow key={fid} id={fid} batchId={id} />
              ))}
            </tbody>
          </table>
          {batch.fileIds.length === 0 && <p className="empty">{t('batch.noFiles')}</p>}
        </div>
      )}
    </li>
  );
}

/**
 * One selection sent as several batches (a folder larger than the files-per-batch cap): one
 * overall bar, one status and one set of counts over all of them, then each batch.
 */
function SelectionGroup({ selection, ids }: { selection: string; ids: string[] }) {
  const { t } = useTranslation();
  const batches = useTransfers(useShallow((s) => ids.map((id) => s.batches[id])));
  const percent = useTransfers((s) => selectionPercent(ids, s.batches, s.files));
  const offline = useOffline();
  const [busy, setBusy] = useState(false);
  const present = batches.filter((b) => b !== undefined);
  const status = overallOfSelection(present.map((b) => b.overall_status));
  const tone = overallStatusTone(status);
  const sum = (pick: (b: (typeof present)[number]) => number) => present.reduce((n, b) => n + pick(b), 0);
  const first = present[0];
  const cancelAll = async () => {
    setBusy(true);
    try {
      const { cancel } = useTransfers.getState();
      for (const b of present) if (b.overall_status === 'in_progress') await cancel(b.batch_id);
    } catch (err) {
      useApp.getState().notify('error', t('selection.label', { id: selection }), errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <li className="selection" aria-label={t('selection.label', { id: selection })}>
      <div className="batch__head">
        <span className="batch__title">
          <strong>{t('selection.title', { count: ids.length })}</strong>
          {first && (
            <span className="muted small">
              {t('batch.route', {
                bucket: first.bucket ?? t('batch.unknownBucket'),
                target: destinationRoute((kind) => t(`destinations.${kind}`), first),
              })}
            </span>
          )}
        </span>
        <span className={`badge tone-${tone}`}>{overallStatusLabel(status)}</span>
        <div className="batch__actions">
          {status === 'in_progress' && (
            <button
              type="button"
              className="button button--small"
              aria-label={t('selection.cancelLabel', { id: selection })}
              disabled={busy || offline}
              onClick={() => void cancelAll()}
            >
              {t('selection.cancel')}
            </button>
          )}
        </div>
      </div>
      <div className="batch__progress">
        <ProgressBar
          value={percent}
          label={t('selection.label', { id: selection })}
          tone={tone}
          size="large"
        />
        <span className="batch__pct">{formatPercent(percent)}</span>
      </div>
      <Counts
        done={sum((b) => b.completed)}
        total={sum((b) => b.total_files)}
        transferring={sum((b) => b.transferring)}
        pending={sum((b) => b.pending)}
        failed={sum((b) => b.failed)}
        cancelled={sum((b) => b.cancelled)}
      />
      <ul className="batches batches--nested">
        {ids.map((id) => (
          <BatchCard key={id} id={id} />
        ))}
      </ul>
    </li>
  );
}

export function TransfersScreen() {
  const { t } = useTranslation();
  const order = useTransfers((s) => s.order);
  const batchMap = useTransfers((s) => s.batches);
  // Cleared batches (a store flag: every window and `status` agree) stay out; one that runs again
  // (a retry) comes back.
  const shown = useMemo(
    () => order.filter((id) => !batchMap[id]?.cleared || batchMap[id]?.overall_status === 'in_progress'),
    [order, batchMap],
  );
  const hiddenCount = order.length - shown.length;
  const finished = shown.filter((id) => batchMap[id]?.overall_status !== 'in_progress');
  const clearing = async (what: 'clear' | 'show') => {
    try {
      await (what === 'clear' ? api().clearFinished() : api().showCleared());
      await useTransfers.getState().refreshAll();
    } catch (err) {
      useApp.getState().notify('error', t('transfers.title'), errorText(err));
    }
  };
  const anyRunning = order.some((id) => batchMap[id]?.overall_status === 'in_progress');
  const offline = useOffline();
  const everything = async (what: 'pause' | 'resume') => {
    const { pauseAll, resumeAll } = useTransfers.getState();
    try {
      await (what === 'pause' ? pauseAll() : resumeAll());
    } catch (err) {
      useApp.getState().notify('error', t('transfers.title'), errorText(err));
    }
  };
  const groups = useMemo(() => groupBySelection(shown, batchMap), [shown, batchMap]);
  const loaded = useTransfers((s) => s.loaded);
  const error = useTransfers((s) => s.error);
  const lastStart = useTransfers((s) => s.lastStart);
  const setScreen = useApp((s) => s.setScreen);
  const current = useApp((s) => s.batch);
  const known = useTransfers((s) => (current ? Boolean(s.batches[current]) : false));
  // Back on the batch one was on (a reload): open it and bring it into view, once.
  const [returned, setReturned] = useState(false);
  useEffect(() => {
    if (returned || !current || !known) return;
    setReturned(true);
    useTransfers.setState((s) => ({ expanded: { ...s.expanded, [current]: true } }));
    const card = document.getElementById(`batch-${current}`);
    card?.scrollIntoView({ block: 'start' });
    card?.querySelector<HTMLElement>('.batch__toggle')?.focus();
  }, [current, known, returned]);
  return (
    <section className="screen" aria-labelledby="transfers-title">
      <header className="screen__head">
        <h1 id="transfers-title">{t('transfers.title')}</h1>
        <div className="toolbar">
          {anyRunning && (
            <>
              <button
                type="button"
                className="button button--ghost"
                disabled={offline}
                onClick={() => void everything('pause')}
              >
                {t('transfers.pauseAll')}
              </button>
              <button
                type="button"
                className="button button--ghost"
                disabled={offline}
                onClick={() => void everything('resume')}
              >
                {t('transfers.resumeAll')}
              </button>
            </>
          )}
          <button
            type="button"
            className="button button--ghost"
            title={t('transfers.clearFinishedHint')}
            disabled={finished.length === 0 || offline}
            onClick={() => void clearing('clear')}
          >
            {t('transfers.clearFinished')}
          </button>
          <button
            type="button"
            className="button button--ghost"
            onClick={() => void useTransfers.getState().refreshAll()}
          >
            {t('transfers.refresh')}
          </button>
        </div>
      </header>
      <div className="screen__body">
        {lastStart && <StartReport outcomes={lastStart} />}
        <OverallProgress />
        {hiddenCount > 0 && (
          <p className="cleared-note muted small">
            <span>{t('transfers.cleared', { count: hiddenCount })}</span>
            <button
              type="button"
              className="button button--ghost button--small"
              disabled={offline}
              onClick={() => void clearing('show')}
            >
              {t('transfers.showCleared')}
            </button>
          </p>
        )}
        {error && (
          <div className="banner banner--error" role="alert">
            {t('transfers.loadError', { error })}
          </div>
        )}
        {loaded && shown.length === 0 && hiddenCount === 0 && !error && (
          <div className="empty-state">
            <h2>{t('transfers.emptyTitle')}</h2>
            <p>{t('transfers.emptyBody')}</p>
            <button type="button" className="button button--primary" onClick={() => setScreen('browse')}>
              {t('transfers.goBrowse')}
            </button>
          </div>
        )}
        <ul className="batches">
          {groups.map((g) =>
            g.selection && g.ids.length > 1 ? (
              <SelectionGroup key={g.selection} selection={g.selection} ids={g.ids} />
            ) : (
              g.ids.map((id) => <BatchCard key={id} id={id} />)
            ),
          )}
        </ul>
      </div>
    </section>
  );
}
