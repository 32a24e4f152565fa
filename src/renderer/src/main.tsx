import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import type { Health } from '../../shared/api';
import type { BatchStatus } from '../../shared/contract';

/**
 * The renderer's entry. In a browser it talks to the headless host: the token comes from the
 * address fragment (`#token=…`, never sent to the server), is kept for this tab only and removed
 * from the address bar. The full screens (Settings, Browse, Transfers, History) are the desktop
 * issue's work; this shows the connection and the batches.
 */
function takeToken(): string | null {
  const fromHash = new URLSearchParams(window.location.hash.slice(1)).get('token');
  if (fromHash) {
    sessionStorage.setItem('megaferry.token', fromHash);
    history.replaceState(null, '', window.location.pathname + window.location.search);
    return fromHash;
  }
  return sessionStorage.getItem('megaferry.token');
}

async function getJson<T>(path: string, token: string | null): Promise<T> {
  const res = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  const body = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body;
}

function App() {
  const [token] = useState(takeToken);
  const [health, setHealth] = useState<Health | null>(null);
  const [batches, setBatches] = useState<BatchStatus[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stop = false;
    const load = async () => {
      try {
        const h = await getJson<Health>('/api/health', null);
        const b = await getJson<BatchStatus[]>('/api/batches', token);
        if (!stop) {
          setHealth(h);
          setBatches(b);
          setError(null);
        }
      } catch (err) {
        if (!stop) setError(err instanceof Error ? err.message : String(err));
      }
    };
    void load();
    const timer = setInterval(load, 2000);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [token]);

  return (
    <main style={{ fontFamily: 'system-ui, sans-serif', padding: 32, maxWidth: 880 }}>
      <h1>MegaFerry</h1>
      {health && (
        <p>
          Connected — version {health.version}, store: {health.store}
        </p>
      )}
      {!token && (
        <p role="alert">No token: open the address printed by “megaferry serve” (it ends with #token=…).</p>
      )}
      {error && <p role="alert">{error}</p>}
      {batches && (
        <table>
          <caption style={{ textAlign: 'left' }}>Batches</caption>
          <thead>
            <tr>
              <th>Batch</th>
              <th>Status</th>
              <th>Done</th>
              <th>Failed</th>
              <th>From → To</th>
            </tr>
          </thead>
          <tbody>
            {batches.map((b) => (
              <tr key={b.batch_id}>
                <td>{b.batch_id}</td>
                <td>{b.overall_status}</td>
                <td>
                  {b.completed}/{b.total_files}
                </td>
                <td>{b.failed}</td>
                <td>
                  {b.bucket} → {b.target}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
