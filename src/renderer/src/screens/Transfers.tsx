/**
 * Transfers: every batch, newest first, with an overall bar and counts; expandable file rows with
 * their own bars, speed, ETA, status and MEGA link. Each row subscribes to its own file only.
 */
import { memo, useState } from 'react';
import { errorText } from '../api';
import { ProgressBar } from '../components/ProgressBar';
import {
  FILE_STATUS_LABELS,
  OVERALL_STATUS_LABELS,
  fileStatusTone,
  formatBytes,
  formatCount,
  formatDate,
  formatEta,
  formatPercent,
  formatSpeed,
  overallStatusTone,
} from '../format';
import { useApp } from '../stores/app';
import { batchPercent, useTransfers, type StartOutcome } from '../stores/transfers';

function StartReport({ outcomes }: { outcomes: StartOutcome[] }) {
  const setLastStart = useTransfers((s) => s.setLastStart);
  const failedRequests = outcomes.filter((o) => !o.ok).length;
  const started = outcomes.reduce((n, o) => n + (o.ok ? o.result.started.length : 0), 0);
  const already = outcomes.reduce((n, o) => n + (o.ok ? o.result.already_done.length : 0), 0);
  const failed = outcomes.flatMap((o) => (o.ok ? o.result.failed_to_start : []));
  const tone = failedRequests > 0 || failed.length > 0 ? 'warn' : 'ok';
  return (
    <section className={`banner banner--${tone} start-report`} aria-label="Start result">
      <div>
        <strong>
          {formatCount(started)} started · {formatCount(already)} already done · {formatCount(failed.length)}{' '}
          failed to start
          {failedRequests > 0 && ` · ${failedRequests} request${failedRequests === 1 ? '' : 's'} refused`}
        </strong>
        <ul className="start-report__list">
          {outcomes.map((o, i) =>
            o.ok ? (
              <li key={`${o.result.batch_id}-${i}`}>
                <code>{o.result.batch_id}</code> — {o.label}: {o.result.message}
                {o.result.already_done.length > 0 && (
                  <div className="muted">
                    Already done (use Force to send again): {o.result.already_done.slice(0, 8).join(', ')}
                    {o.result.already_done.length > 8 ? ` and ${o.result.already_done.length - 8} more` : ''}
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
                Failed to start {o.label}: {o.error}
              </li>
            ),
          )}
        </ul>
      </div>
      <button
        type="button"
        className="icon-button"
        aria-label="Dismiss start result"
        onClick={() => setLastStart(null)}
      >
        ×
      </button>
    </section>
  );
}

const FileRow = memo(function FileRow({ id }: { id: string }) {
  const f = useTransfers((s) => s.files[id]);
  if (!f) return null;
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
      <td className="frow__bar">
        <ProgressBar value={progress} label={f.remote_key} tone={tone} />
        <div className="small muted">
          {formatPercent(progress)} · {formatBytes(f.transferred_bytes)}
          {f.total_bytes !== null ? ` of ${formatBytes(f.total_bytes)}` : ''}
        </div>
      </td>
      <td className="num">{active ? formatSpeed(f.speed) : '—'}</td>
      <td className="num">{active ? formatEta(f.eta_seconds) : '—'}</td>
      <td>
        <span className={`badge tone-${tone}`}>{FILE_STATUS_LABELS[f.status]}</span>
      </td>
      <td className="num">{f.retry_count}</td>
      <td>
        {f.mega_link ? (
          <a href={f.mega_link} target="_blank" rel="noreferrer" aria-label={`Open in MEGA: ${f.remote_key}`}>
            Open in MEGA
          </a>
        ) : null}
      </td>
    </tr>
  );
});

function BatchCard({ id }: { id: string }) {
  const batch = useTransfers((s) => s.batches[id]);
  const percent = useTransfers((s) => (s.batches[id] ? batchPercent(s.batches[id], s.files) : 0));
  const expanded = useTransfers((s) => !!s.expanded[id]);
  const busy = useTransfers((s) => !!s.busy[id]);
  const [error, setError] = useState<string | null>(null);
  if (!batch) return null;
  const { toggleExpanded, cancel, retry } = useTransfers.getState();
  const running = batch.overall_status === 'in_progress';
  const tone = overallStatusTone(batch.overall_status);
  const canRetry = !running && batch.failed + batch.cancelled > 0;
  const act = async (what: () => Promise<void>) => {
    setError(null);
    try {
      await what();
    } catch (err) {
      setError(errorText(err));
      useApp.getState().notify('error', `Batch ${id}`, errorText(err));
    }
  };
  const filesId = `files-${id}`;
  return (
    <li className="batch" aria-label={`Batch ${id}`}>
      <div className="batch__head">
        <button
          type="button"
          className="batch__toggle"
          aria-expanded={expanded}
          aria-controls={filesId}
          onClick={() => toggleExpanded(id)}
        >
          <span className={`chevron${expanded ? ' is-open' : ''}`} aria-hidden="true">
            ›
          </span>
          <span className="batch__title">
            <span className="batch__id">{id}</span>
            <span className="muted small">
              {batch.bucket ?? '?'} → MEGA {batch.target ?? '/'}
              {batch.created_at ? ` · ${formatDate(batch.created_at)}` : ''}
            </span>
          </span>
        </button>
        <span className={`badge tone-${tone}`}>{OVERALL_STATUS_LABELS[batch.overall_status]}</span>
        <div className="batch__actions">
          {running && (
            <button
              type="button"
              className="button button--small"
              disabled={busy}
              onClick={() => void act(() => cancel(id))}
            >
              Cancel batch
            </button>
          )}
          {canRetry && (
            <button
              type="button"
              className="button button--small"
              disabled={busy}
              onClick={() => void act(() => retry(id))}
            >
              Retry failed
            </button>
          )}
        </div>
      </div>
      <div className="batch__progress">
        <ProgressBar value={percent} label={`Batch ${id}`} tone={tone} size="large" />
        <span className="batch__pct">{formatPercent(percent)}</span>
      </div>
      <div className="counts">
        <span>
          <b>{formatCount(batch.completed)}</b> / {formatCount(batch.total_files)} done
        </span>
        <span className={batch.transferring ? 'tone-text-active' : ''}>
          <b>{batch.transferring}</b> transferring
        </span>
        <span>
          <b>{batch.pending}</b> pending
        </span>
        <span className={batch.failed ? 'text-bad' : ''}>
          <b>{batch.failed}</b> failed
        </span>
        <span>
          <b>{batch.cancelled}</b> cancelled
        </span>
      </div>
      {error && (
        <p className="text-bad small" role="alert">
          {error}
        </p>
      )}
      {expanded && (
        <div id={filesId} className="table-wrap">
          <table className="table files-table">
            <caption className="sr-only">Files of batch {id}</caption>
            <thead>
              <tr>
                <th scope="col">File</th>
                <th scope="col">Progress</th>
                <th scope="col" className="num">
                  Speed
                </th>
                <th scope="col" className="num">
                  ETA
                </th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Retries
                </th>
                <th scope="col">
                  <span className="sr-only">Link</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {batch.fileIds.map((fid) => (
                <FileRow key={fid} id={fid} />
              ))}
            </tbody>
          </table>
          {batch.fileIds.length === 0 && <p className="empty">No files in this batch.</p>}
        </div>
      )}
    </li>
  );
}

export function TransfersScreen() {
  const order = useTransfers((s) => s.order);
  const loaded = useTransfers((s) => s.loaded);
  const error = useTransfers((s) => s.error);
  const lastStart = useTransfers((s) => s.lastStart);
  const setScreen = useApp((s) => s.setScreen);
  return (
    <section className="screen" aria-labelledby="transfers-title">
      <header className="screen__head">
        <h1 id="transfers-title">Transfers</h1>
        <button
          type="button"
          className="button button--ghost"
          onClick={() => void useTransfers.getState().refreshAll()}
        >
          Refresh
        </button>
      </header>
      <div className="screen__body">
        {lastStart && <StartReport outcomes={lastStart} />}
        {error && (
          <div className="banner banner--error" role="alert">
            Could not load the batches: {error}
          </div>
        )}
        {loaded && order.length === 0 && !error && (
          <div className="empty-state">
            <h2>No transfers yet</h2>
            <p>Pick objects in Browse and press Start transfer, or drop files on the window.</p>
            <button type="button" className="button button--primary" onClick={() => setScreen('browse')}>
              Go to Browse
            </button>
          </div>
        )}
        <ul className="batches">
          {order.map((id) => (
            <BatchCard key={id} id={id} />
          ))}
        </ul>
      </div>
    </section>
  );
}
