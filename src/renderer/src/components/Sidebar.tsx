/** Navigation between the screens, the connection state and the theme choice. */
import { useTranslation } from 'react-i18next';
import { useApp, useOffline, type Screen, type ThemeChoice } from '../stores/app';
import { useTransfers } from '../stores/transfers';
import { client } from '../api';

const SCREENS: { id: Screen; icon: string }[] = [
  { id: 'browse', icon: 'M3 6h6l2 2h10v10H3z' },
  { id: 'transfers', icon: 'M7 4v12M7 16l-3-3M7 16l3-3M17 20V8M17 8l-3 3M17 8l3 3' },
  { id: 'history', icon: 'M12 7v5l3 2M4 12a8 8 0 1 0 2.3-5.6M4 4v3h3' },
  { id: 'workers', icon: 'M4 5h16v5H4zM4 14h16v5H4zM7 7.5h.01M7 16.5h.01' },
  { id: 'settings', icon: 'M4 7h10M18 7h2M4 17h4M12 17h8M16 5v4M10 15v4' },
];

function ActiveCount() {
  const n = useTransfers(
    (s) => s.order.filter((id) => s.batches[id]?.overall_status === 'in_progress').length,
  );
  return n > 0 ? (
    <span className="nav__badge" aria-hidden="true">
      {n}
    </span>
  ) : null;
}

function ConnectionStatus() {
  const { t } = useTranslation();
  const health = useApp((s) => s.health);
  const healthError = useApp((s) => s.healthError);
  const connection = useApp((s) => s.connection);
  const offline = useOffline();
  const ok = health?.ok && connection === 'connected';
  const text = offline
    ? t('offline.status')
    : healthError
      ? t('connection.notConnected')
      : connection === 'connected'
        ? health?.ok === false
          ? t('connection.unhealthy')
          : t('connection.connected')
        : connection === 'connecting'
          ? t('connection.connecting')
          : t('connection.disconnected');
  return (
    <div className="conn" aria-label={t('connection.label')}>
      <span
        className={`conn__dot ${ok ? 'is-ok' : healthError || connection === 'disconnected' ? 'is-bad' : 'is-wait'}`}
      />
      <div>
        <div className="conn__state">{text}</div>
        <div className="conn__detail">
          {health
            ? `${health.store === 'mongodb' ? t('connection.mongodb') : t('connection.embedded')} · ${t('connection.version', { version: health.version })}`
            : (healthError ?? '\u00a0')}
          {client?.transport === 'http' ? ` · ${t('connection.headless')}` : ''}
        </div>
      </div>
    </div>
  );
}

export function Sidebar() {
  const { t } = useTranslation();
  const screen = useApp((s) => s.screen);
  const setScreen = useApp((s) => s.setScreen);
  const theme = useApp((s) => s.theme);
  const setTheme = useApp((s) => s.setTheme);
  return (
    <aside className="sidebar">
      <div className="brand">
        <img src="./favicon.svg" alt="" width={28} height={28} />
        <span>{t('app.name')}</span>
      </div>
      <nav aria-label={t('nav.label')}>
        <ul className="nav">
          {SCREENS.map((s) => (
            <li key={s.id}>
              <button
                type="button"
                className="nav__item"
                aria-current={screen === s.id ? 'page' : undefined}
                onClick={() => setScreen(s.id)}
              >
                <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
                  <path
                    d={s.icon}
                    fill="none"
                    stroke="currentColor"
                    strokeWidth="1.8"
                    strokeLinecap="round"
                    strokeLinejoin="round"
                  />
                </svg>
                <span>{t(`nav.${s.id}`)}</span>
                {s.id === 'transfers' && <ActiveCount />}
              </button>
            </li>
          ))}
        </ul>
      </nav>
      <div className="sidebar__foot">
        <ConnectionStatus />
        <label className="theme-pick">
          <span>{t('theme.label')}</span>
          <select value={theme} onChange={(e) => setTheme(e.target.value as ThemeChoice)}>
            <option value="system">{t('theme.system')}</option>
            <option value="light">{t('theme.light')}</option>
            <option value="dark">{t('theme.dark')}</option>
          </select>
        </label>
      </div>
    </aside>
  );
}
