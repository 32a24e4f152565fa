/** Navigation between the four screens, the connection state and the theme choice. */
import { useApp, type Screen, type ThemeChoice } from '../stores/app';
import { useTransfers } from '../stores/transfers';
import { client } from '../api';

const SCREENS: { id: Screen; label: string; icon: string }[] = [
  { id: 'browse', label: 'Browse', icon: 'M3 6h6l2 2h10v10H3z' },
  { id: 'transfers', label: 'Transfers', icon: 'M7 4v12M7 16l-3-3M7 16l3-3M17 20V8M17 8l-3 3M17 8l3 3' },
  { id: 'history', label: 'History', icon: 'M12 7v5l3 2M4 12a8 8 0 1 0 2.3-5.6M4 4v3h3' },
  { id: 'settings', label: 'Settings', icon: 'M4 7h10M18 7h2M4 17h4M12 17h8M16 5v4M10 15v4' },
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
  const health = useApp((s) => s.health);
  const healthError = useApp((s) => s.healthError);
  const connection = useApp((s) => s.connection);
  const ok = health?.ok && connection === 'connected';
  const text = healthError
    ? 'Not connected'
    : connection === 'connected'
      ? health?.ok === false
        ? 'Service unhealthy'
        : 'Connected'
      : connection === 'connecting'
        ? 'Connecting…'
        : 'Disconnected';
  return (
    <div className="conn" aria-label="Connection">
      <span
        className={`conn__dot ${ok ? 'is-ok' : healthError || connection === 'disconnected' ? 'is-bad' : 'is-wait'}`}
      />
      <div>
        <div className="conn__state">{text}</div>
        <div className="conn__detail">
          {health
            ? `${health.store === 'mongodb' ? 'MongoDB' : 'Embedded store'} · v${health.version}`
            : (healthError ?? '\u00a0')}
          {client?.transport === 'http' ? ' · headless host' : ''}
        </div>
      </div>
    </div>
  );
}

export function Sidebar() {
  const screen = useApp((s) => s.screen);
  const setScreen = useApp((s) => s.setScreen);
  const theme = useApp((s) => s.theme);
  const setTheme = useApp((s) => s.setTheme);
  return (
    <aside className="sidebar">
      <div className="brand">
        <img src="./favicon.svg" alt="" width={28} height={28} />
        <span>MegaFerry</span>
      </div>
      <nav aria-label="Main">
        <ul className="nav">
          {SCREENS.map((s) => (
            <li key={s.id}>
              <button
                type="button"
                className="nav__item"
                aria-label={s.label}
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
                <span>{s.label}</span>
                {s.id === 'transfers' && <ActiveCount />}
              </button>
            </li>
          ))}
        </ul>
      </nav>
      <div className="sidebar__foot">
        <ConnectionStatus />
        <label className="theme-pick">
          <span>Theme</span>
          <select value={theme} onChange={(e) => setTheme(e.target.value as ThemeChoice)}>
            <option value="system">System</option>
            <option value="light">Light</option>
            <option value="dark">Dark</option>
          </select>
        </label>
      </div>
    </aside>
  );
}
