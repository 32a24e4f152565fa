/** History: the `files` documents, filtered by status and a search, paged, exportable as CSV. */
import { useEffect, useState } from 'react';
import type { FileRecord } from '../../../shared/api';
import { FILE_STATUSES, type FileStatus } from '../../../shared/contract';
import { errorText } from '../api';
import { toCsv } from '../../../shared/csv';
import {
  FILE_STATUS_LABELS,
  VERIFY_RESULT_LABELS,
  fileStatusTone,
  formatCount,
  formatDate,
  verifyResultTone,
} from '../format';
import { useApp } from '../stores/app';
import { useHistory } from '../stores/history';

const CSV_COLUMNS: { header: string; value: (f: FileRecord) => unknown }[] = [
  { header: 'code', value: (f) => f.code },
  { header: 'bucket_name', value: (f) => f.bucket_name },
  { header: 'remote_key', value: (f) => f.remote_key },
  { header: 's4_key', value: (f) => f.s4_key },
  { header: 'status', value: (f) => f.status },
  { header: 'retry_count', value: (f) => f.retry_count },
  { header: 'error_message', value: (f) => f.error_message },
  { header: 'size', value: (f) => f.size },
  { header: 'mega_link', value: (f) => f.mega_link },
  { header: 'creation_date', value: (f) => f.creation_date },
  { header: 'modified_date', value: (f) => f.modified_date },
  { header: 'status_updated_at', value: (f) => f.status_updated_at },
  { header: 'verify_result', value: (f) => f.verify_result },
  { header: 'verified_at', value: (f) => f.verified_at },
];

/** What `megaferry verify` last found for the copy in MEGA, with when; a dash when never checked. */
function VerifiedCell({ file }: { file: FileRecord }) {
  if (!file.verify_result) {
    return (
      <span className="muted" title="Not verified (megaferry verify checks the copy in MEGA)">
        <span aria-hidden="true">—</span>
        <span className="sr-only">Not verified</span>
      </span>
    );
  }
  const when = formatDate(file.verified_at);
  return (
    <span
      className={`badge tone-${verifyResultTone(file.verify_result)}`}
      title={`Checked against the source ${when}`}
    >
      {VERIFY_RESULT_LABELS[file.verify_result]}
      <span className="sr-only">, checked {when}</span>
    </span>
  );
}

function download(name: string, text: string) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function ExportButton() {
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    try {
      const { status, fetchAll } = useHistory.getState();
      const rows = await fetchAll();
      const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
      download(`megaferry-files${status ? `-${status}` : ''}-${stamp}.csv`, toCsv(CSV_COLUMNS, rows));
      useApp
        .getState()
        .notify('ok', `Exported ${formatCount(rows.length)} row${rows.length === 1 ? '' : 's'} as CSV.`);
    } catch (err) {
      useApp.getState().notify('error', 'Export failed', errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <button type="button" className="button" onClick={() => void run()} disabled={busy} aria-busy={busy}>
      {busy ? 'Exporting…' : 'Export CSV'}
    </button>
  );
}

export function HistoryScreen() {
  const status = useHistory((s) => s.status);
  const q = useHistory((s) => s.q);
  const files = useHistory((s) => s.files);
  const cursor = useHistory((s) => s.cursor);
  const loading = useHistory((s) => s.loading);
  const loaded = useHistory((s) => s.loaded);
  const error = useHistory((s) => s.error);
  const { setFilter, load, loadMore } = useHistory.getState();
  const [search, setSearch] = useState(q);

  useEffect(() => {
    void load();
  }, [load]);

  // The search applies after a short pause in typing.
  useEffect(() => {
    if (search === useHistory.getState().q) return;
    const t = setTimeout(() => setFilter({ q: search }), 300);
    return () => clearTimeout(t);
  }, [search, setFilter]);

  return (
    <section className="screen" aria-labelledby="history-title">
      <header className="screen__head">
        <h1 id="history-title">History</h1>
        <div className="toolbar">
          <label className="field field--inline">
            <span>Status</span>
            <select value={status} onChange={(e) => setFilter({ status: e.target.value as FileStatus | '' })}>
              <option value="">All statuses</option>
              {FILE_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {FILE_STATUS_LABELS[s]}
                </option>
              ))}
            </select>
          </label>
          <input
            type="search"
            className="search"
            placeholder="Search code, key or path"
            aria-label="Search files"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
          <button type="button" className="button button--ghost" onClick={() => void load()}>
            Refresh
          </button>
          <ExportButton />
        </div>
      </header>
      <div className="screen__body">
        {error && (
          <div className="banner banner--error" role="alert">
            Could not load the files: {error}
          </div>
        )}
        <div className="table-wrap table-wrap--card">
          <table className="table history-table" aria-busy={loading}>
            <caption className="sr-only">Files</caption>
            <thead>
              <tr>
                <th scope="col">Code</th>
                <th scope="col">Source</th>
                <th scope="col">MEGA path</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Retries
                </th>
                <th scope="col">Error</th>
                <th scope="col">Updated</th>
                <th scope="col">Verified</th>
              </tr>
            </thead>
            <tbody>
              {files.map((f) => (
                <tr key={`${f.bucket_name}\u0000${f.remote_key}`}>
                  <td className="truncate-cell" title={f.code}>
                    {f.code}
                  </td>
                  <td className="truncate-cell" title={`${f.bucket_name}/${f.remote_key}`}>
                    <span className="muted">{f.bucket_name}/</span>
                    {f.remote_key}
                  </td>
                  <td className="truncate-cell" title={f.s4_key}>
                    {f.mega_link ? (
                      <a href={f.mega_link} target="_blank" rel="noreferrer">
                        {f.s4_key}
                      </a>
                    ) : (
                      f.s4_key
                    )}
                  </td>
                  <td>
                    <span className={`badge tone-${fileStatusTone(f.status)}`}>
                      {FILE_STATUS_LABELS[f.status]}
                    </span>
                  </td>
                  <td className="num">{f.retry_count}</td>
                  <td className="truncate-cell text-bad" title={f.error_message ?? ''}>
                    {f.error_message ?? ''}
                  </td>
                  <td className="nowrap">{formatDate(f.modified_date)}</td>
                  <td>
                    <VerifiedCell file={f} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {loaded && files.length === 0 && !loading && !error && (
            <p className="empty">
              {status || q ? 'No files match this filter.' : 'No files yet: transfers appear here.'}
            </p>
          )}
        </div>
        <div className="pager">
          <span className="muted" aria-live="polite">
            {loading
              ? 'Loading…'
              : `${formatCount(files.length)} file${files.length === 1 ? '' : 's'} shown${cursor ? ', more available' : ''}`}
          </span>
          {cursor && (
            <button type="button" className="button" onClick={() => void loadMore()} disabled={loading}>
              Load more
            </button>
          )}
        </div>
      </div>
    </section>
  );
}
