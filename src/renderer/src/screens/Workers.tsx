/**
 * Workers: every process sharing the store, as their heartbeats say — workers, desktop apps,
 * hosts and command-line runs — moving, idle or gone, with what each moves now, how fast and how
 * much it has done. Looked at again every two seconds while the screen is open.
 */
import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { WorkerStatus } from '../../../shared/api';
import { api, errorText } from '../api';
import { formatCount, formatDate, formatSpeed } from '../format';
import { useApp, useOffline } from '../stores/app';

const REFRESH_MS = 2000;

const STATE_TONE: Record<WorkerStatus['state'], string> = {
  online: 'active',
  idle: 'neutral',
  gone: 'muted',
};

export function WorkersScreen() {
  const { t } = useTranslation();
  const store = useApp((s) => s.health?.store);
  const offline = useOffline();
  const [workers, setWorkers] = useState<WorkerStatus[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setWorkers((await api().listWorkers()).workers);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  }, []);

  useEffect(() => {
    if (offline) return;
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [load, offline]);

  const count = (state: WorkerStatus['state']) => (workers ?? []).filter((w) => w.state === state).length;

  return (
    <section className="screen" aria-labelledby="workers-title">
      <header className="screen__head">
        <h1 id="workers-title">{t('workers.title')}</h1>
        <div className="toolbar">
          {workers && (
            <span className="muted" aria-live="polite">
              {t('workers.summary', { online: count('online'), idle: count('idle'), gone: count('gone') })}
            </span>
          )}
          <button type="button" className="button button--ghost" onClick={() => void load()}>
            {t('workers.refresh')}
          </button>
        </div>
      </header>
      <div className="screen__body">
        <p className="muted">{t('workers.intro')}</p>
        {store === 'embedded' && <div className="banner banner--info">{t('workers.embedded')}</div>}
        {error && (
          <div className="banner banner--error" role="alert">
            {t('workers.loadError', { error })}
          </div>
        )}
        {/* It scrolls when the window is short: reachable (and named) by keyboard. */}
        <div
          className="table-wrap table-wrap--card"
          tabIndex={0}
          role="region"
          aria-label={t('workers.tableLabel')}
        >
          <table className="table workers-table" aria-busy={workers === null}>
            <caption className="sr-only">{t('workers.tableLabel')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('workers.name')}</th>
                <th scope="col">{t('workers.kind')}</th>
                <th scope="col">{t('workers.host')}</th>
                <th scope="col">{t('workers.state')}</th>
                <th scope="col" className="num">
                  {t('workers.moving')}
                </th>
                <th scope="col" className="num">
                  {t('workers.speed')}
                </th>
                <th scope="col" className="num">
                  {t('workers.moved')}
                </th>
                <th scope="col">{t('workers.lastSeen')}</th>
                <th scope="col">{t('workers.version')}</th>
              </tr>
            </thead>
            <tbody>
              {(workers ?? []).map((w) => (
                <tr key={w.id} className={w.state === 'gone' ? 'is-gone' : undefined}>
                  <td className="truncate-cell" title={w.id} data-label={t('workers.name')}>
                    <span>
                      {w.name}
                      {w.this_process && <span className="muted"> ({t('workers.thisProcess')})</span>}
                    </span>
                  </td>
                  <td data-label={t('workers.kind')}>{t(`workers.kinds.${w.kind}`)}</td>
                  <td
                    className="truncate-cell"
                    title={t('workers.hostTitle', { host: w.host, pid: w.pid })}
                    data-label={t('workers.host')}
                  >
                    {w.host}
                  </td>
                  <td data-label={t('workers.state')}>
                    <span className={`badge tone-${STATE_TONE[w.state]}`}>
                      {t(`workers.states.${w.state}`)}
                    </span>
                    {w.holds.map((h) => (
                      <div key={h.destination} className="small text-warn" title={h.reason}>
                        {t('workers.held', { time: formatDate(h.retry_at) })}
                      </div>
                    ))}
                  </td>
                  <td className="num" data-label={t('workers.moving')}>
                    {w.state === 'gone'
                      ? '—'
                      : t('workers.movingOf', { active: w.active_transfers, capacity: w.capacity })}
                  </td>
                  <td className="num" data-label={t('workers.speed')}>
                    {w.state === 'online' ? formatSpeed(w.bytes_per_s) : '—'}
                  </td>
                  <td className="num" data-label={t('workers.moved')}>
                    {formatCount(w.moved)}
                  </td>
                  <td className="nowrap" data-label={t('workers.lastSeen')}>
                    {formatDate(w.last_seen)}
                  </td>
                  <td data-label={t('workers.version')}>{w.version}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {workers && workers.length === 0 && !error && <p className="empty">{t('workers.empty')}</p>}
        </div>
      </div>
    </section>
  );
}
