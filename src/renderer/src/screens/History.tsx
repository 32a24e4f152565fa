/** History: the `files` documents, filtered by status and a search, paged, exportable as CSV. */
import { CopyLocation } from '../components/CopyLocation';
import { copyLocation, destinationLabel } from '../../../shared/destinations';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { FileRecord } from '../../../shared/api';
import { FILE_STATUSES, type FileStatus } from '../../../shared/contract';
import { errorText } from '../api';
import { toCsv } from '../../../shared/csv';
import { fileStatusLabel, fileStatusTone, formatDate, verifyResultLabel, verifyResultTone } from '../format';
import { i18n } from '../i18n';
import { useApp, useOffline } from '../stores/app';
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
  { header: 'destination', value: (f) => f.destination },
  { header: 'creation_date', value: (f) => f.creation_date },
  { header: 'modified_date', value: (f) => f.modified_date },
  { header: 'status_updated_at', value: (f) => f.status_updated_at },
  { header: 'verify_result', value: (f) => f.verify_result },
  { header: 'verified_at', value: (f) => f.verified_at },
];

/** What `megaferry verify` last found for the copy in MEGA, with when; a dash when never checked. */
function VerifiedCell({ file }: { file: FileRecord }) {
  const { t } = useTranslation();
  if (!file.verify_result) {
    return (
      <span className="muted" title={t('history.notVerifiedHint')}>
        <span aria-hidden="true">—</span>
        <span className="sr-only">{t('history.notVerified')}</span>
      </span>
    );
  }
  const when = formatDate(file.verified_at);
  return (
    <span
      className={`badge tone-${verifyResultTone(file.verify_result)}`}
      title={t('history.checkedHint', { when })}
    >
      {verifyResultLabel(file.verify_result)}
      <span className="sr-only">{t('history.checkedSr', { when })}</span>
    </span>
  );
}

/** Saves a CSV; the UTF-8 byte order mark lets Excel read "Café" and Chinese names as written. */
function download(name: string, text: string) {
  const url = URL.createObjectURL(new Blob(['\ufeff', text], { type: 'text/csv;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function ExportButton() {
  const { t } = useTranslation();
  const [busy, setBusy] = useState(false);
  const offline = useOffline();
  const run = async () => {
    setBusy(true);
    try {
      const { status, fetchAll } = useHistory.getState();
      const rows = await fetchAll();
      const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
      download(`megaferry-files${status ? `-${status}` : ''}-${stamp}.csv`, toCsv(CSV_COLUMNS, rows));
      useApp.getState().notify('ok', i18n.t('history.exported', { count: rows.length }));
    } catch (err) {
      useApp.getState().notify('error', i18n.t('history.exportFailed'), errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <button
      type="button"
      className="button"
      onClick={() => void run()}
      disabled={busy || offline}
      aria-busy={busy}
    >
      {busy ? t('history.exporting') : t('history.export')}
    </button>
  );
}

export function HistoryScreen() {
  const { t } = useTranslation();
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
        <h1 id="history-title">{t('history.title')}</h1>
        <div className="toolbar">
          <label className="field field--inline">
            <span>{t('history.status')}</span>
            <select value={status} onChange={(e) => setFilter({ status: e.target.value as FileStatus | '' })}>
              <option value="">{t('history.allStatuses')}</option>
              {FILE_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {fileStatusLabel(s)}
                </option>
              ))}
            </select>
          </label>
          <input
            type="search"
            className="search"
            placeholder={t('history.searchPlaceholder')}
            aria-label={t('history.searchLabel')}
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
          <button type="button" className="button button--ghost" onClick={() => void load()}>
            {t('history.refresh')}
          </button>
          <ExportButton />
        </div>
      </header>
      <div className="screen__body">
        {error && (
          <div className="banner banner--error" role="alert">
            {t('history.loadError', { error })}
          </div>
        )}
        <div className="table-wrap table-wrap--card">
          <table className="table history-table" aria-busy={loading}>
            <caption className="sr-only">{t('history.caption')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('history.code')}</th>
                <th scope="col">{t('history.source')}</th>
                <th scope="col">{t('history.megaPath')}</th>
                <th scope="col">{t('history.status')}</th>
                <th scope="col" className="num">
                  {t('history.retries')}
                </th>
                <th scope="col">{t('history.error')}</th>
                <th scope="col">{t('history.updated')}</th>
                <th scope="col">{t('history.verified')}</th>
              </tr>
            </thead>
            <tbody>
              {files.map((f) => (
                <tr key={`${f.bucket_name}\u0000${f.remote_key}`}>
                  <td className="truncate-cell" title={f.code} data-label={t('history.code')}>
                    {f.code}
                  </td>
                  <td
                    className="truncate-cell"
                    title={`${f.bucket_name}/${f.remote_key}`}
                    data-label={t('history.source')}
                  >
                    <span>
                      <span className="muted">{f.bucket_name}/</span>
                      {f.remote_key}
                    </span>
                  </td>
                  <td className="truncate-cell" title={f.s4_key} data-label={t('history.megaPath')}>
                    {f.mega_link ? (
                      <a href={f.mega_link} target="_blank" rel="noreferrer">
                        {f.s4_key}
                      </a>
                    ) : (
                      f.s4_key
                    )}
                    {!f.destination.startsWith('mega:') && (
                      <div className="small muted history__where">
                        <span className="truncate" title={f.destination}>
                          {destinationLabel(f.destination)}
                        </span>
                        <DoneLocation file={f} />
                      </div>
                    )}
                  </td>
                  <td data-label={t('history.status')}>
                    <span className={`badge tone-${fileStatusTone(f.status)}`}>
                      {fileStatusLabel(f.status)}
                    </span>
                  </td>
                  <td className="num" data-label={t('history.retries')}>
                    {f.retry_count}
                  </td>
                  <td
                    className={`truncate-cell text-bad${f.error_message ? '' : ' is-empty'}`}
                    title={f.error_message ?? ''}
                    data-label={t('history.error')}
                  >
                    {f.error_message ?? ''}
                  </td>
                  <td className="nowrap" data-label={t('history.updated')}>
                    {formatDate(f.modified_date)}
                  </td>
                  <td data-label={t('history.verified')}>
                    <VerifiedCell file={f} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {loaded && files.length === 0 && !loading && !error && (
            <p className="empty">{status || q ? t('history.noMatch') : t('history.empty')}</p>
          )}
        </div>
        <div className="pager">
          <span className="muted" aria-live="polite">
            {loading
              ? t('history.loading')
              : cursor
                ? t('history.shownMore', { count: files.length })
                : t('history.shown', { count: files.length })}
          </span>
          {cursor && (
            <button type="button" className="button" onClick={() => void loadMore()} disabled={loading}>
              {t('history.loadMore')}
            </button>
          )}
        </div>
      </div>
    </section>
  );
}

/** A done copy's Copy location (S4, a local folder; MEGA's have their link instead). */
function DoneLocation({ file }: { file: FileRecord }) {
  const location = file.status === 'done' ? copyLocation(file.destination, file.s4_key) : null;
  return location ? <CopyLocation location={location} label={file.remote_key} /> : null;
}
