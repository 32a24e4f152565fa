/**
 * The headless host's token: taken from the address fragment (`#token=…`, never sent to the
 * server), kept for this tab only in sessionStorage and removed from the address bar.
 */
export function takeToken(): string | null {
  const fromHash = new URLSearchParams(window.location.hash.slice(1)).get('token');
  if (fromHash) {
    sessionStorage.setItem('megaferry.token', fromHash);
    history.replaceState(null, '', window.location.pathname + window.location.search);
    return fromHash;
  }
  return sessionStorage.getItem('megaferry.token');
}
