/** The application shell: sidebar, the current screen, notices and the drop overlay. */
import { DESTINATIONS, defaultTargetOf } from '../../shared/destinations';
import { useEffect, useLayoutEffect } from 'react';
import { Trans, useTranslation } from 'react-i18next';
import { client, errorText } from './api';
import { DropZone } from './components/DropZone';
import { Notices } from './components/Notices';
import { Sidebar } from './components/Sidebar';
import { BrowseScreen } from './screens/Browse';
import { HistoryScreen } from './screens/History';
import { SettingsScreen } from './screens/Settings';
import { TransfersScreen } from './screens/Transfers';
import { WorkersScreen } from './screens/Workers';
import { useApp } from './stores/app';
import { useBrowse } from './stores/browse';
import { useSettings } from './stores/settings';
import { useTransfers } from './stores/transfers';
import { destinationReady, needsSetup } from './settings-form';
import { Announcer } from './components/Announcer';
import { OfflineBanner } from './components/OfflineBanner';
import { HoldBanner } from './components/HoldBanner';

/** Sets `data-theme` to light or dark: the chosen theme, or the system's (followed live). */
function useTheme() {
  const theme = useApp((s) => s.theme);
  // Before the first paint, so a dark system never flashes the light theme.
  useLayoutEffect(() => {
    const root = document.documentElement;
    const system = window.matchMedia('(prefers-color-scheme: dark)');
    const apply = () => {
      root.dataset.theme = theme === 'system' ? (system.matches ? 'dark' : 'light') : theme;
    };
    apply();
    if (theme !== 'system') return;
    system.addEventListener('change', apply);
    return () => system.removeEventListener('change', apply);
  }, [theme]);
}

/** Live events, catch-up on every (re)connect, health, and the defaults from settings. */
function useConnection() {
  useEffect(() => {
    if (!client) return;
    const offEvents = client.onEvent((e) => useTransfers.getState().applyEvent(e));
    const offConn = client.onConnection((state) => {
      useApp.getState().setConnection(state);
      if (state === 'connected') {
        void useTransfers.getState().refreshAll();
        void checkHealth();
        void loadHolds();
      }
    });
    /** The queues this process holds now (a hold that began before this page loaded). */
    async function loadHolds() {
      try {
        const me = (await client!.listWorkers()).workers.find((w) => w.this_process);
        const app = useApp.getState();
        for (const destination of Object.keys(app.holds)) {
          if (!me?.holds.some((h) => h.destination === destination))
            app.setHold({ destination, reason: null, retry_at: null });
        }
        for (const h of me?.holds ?? []) app.setHold(h);
      } catch {
        // the next (re)connect tries again; live hold events keep it current meanwhile
      }
    }
    async function checkHealth() {
      try {
        useApp.getState().setHealth(await client!.health());
      } catch (err) {
        useApp.getState().setHealth(null, errorText(err));
      }
    }
    void checkHealth();
    // Often enough that a host gone away shows as such within seconds.
    const timer = setInterval(() => void checkHealth(), 5_000);

    void (async () => {
      const view = await useSettings.getState().load();
      // Nothing configured yet (no MEGA account): open on the setup, unless a reload names a screen.
      const app = useApp.getState();
      if (view && needsSetup(view) && !app.screenFromAddress) app.setScreen('settings');
      const browse = useBrowse.getState();
      if (view) {
        // The destination last used is offered; when it is not set up but another is (only S4
        // keys, say), that one is.
        if (!destinationReady(view, browse.destination)) {
          const ready = DESTINATIONS.find((d) => d.required.length > 0 && destinationReady(view, d.kind));
          if (ready)
            browse.setDestination(ready.kind, view[ready.kind].default_target || defaultTargetOf(ready.kind));
        }
        if (!browse.targetTouched && view[browse.destination].default_target)
          browse.setTarget(view[browse.destination].default_target, false);
        browse.setConcurrency(Math.min(view.transfers.max_concurrent, view.transfers.max_concurrent_limit));
      }
      await browse.loadBuckets(view?.s3.default_bucket || undefined);
    })();
    return () => {
      offEvents();
      offConn();
      clearInterval(timer);
    };
  }, []);
}

function NoToken() {
  const { t } = useTranslation();
  return (
    <main className="no-token">
      <div className="no-token__card">
        <img src="./favicon.svg" alt="" width={48} height={48} />
        <h1>{t('noToken.title')}</h1>
        <p>
          <Trans i18nKey="noToken.body" components={{ cmd: <code />, hash: <code /> }} />
        </p>
      </div>
    </main>
  );
}

export function App() {
  useTheme();
  useConnection();
  const screen = useApp((s) => s.screen);
  if (!client) return <NoToken />;
  return (
    <div className="shell">
      <Sidebar />
      <main className="content" id="content">
        <OfflineBanner />
        <HoldBanner />
        {screen === 'browse' && <BrowseScreen />}
        {screen === 'transfers' && <TransfersScreen />}
        {screen === 'history' && <HistoryScreen />}
        {screen === 'workers' && <WorkersScreen />}
        {screen === 'settings' && <SettingsScreen />}
      </main>
      <Notices />
      <Announcer />
      <DropZone />
    </div>
  );
}
