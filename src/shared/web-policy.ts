/**
 * What the UI may load and open, in the desktop window and from the headless host. Pure: no
 * electron, no Node.
 */

/** Links the window may hand to the OS browser: MEGA's own https pages only. */
export function isAllowedExternalUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return (
    parsed.protocol === 'https:' &&
    parsed.hostname === 'mega.nz' &&
    parsed.port === '' &&
    parsed.username === '' &&
    parsed.password === ''
  );
}

/** The Content-Security-Policy of the renderer (header and <meta> in src/renderer/index.html). */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'";

/**
 * The headless host's policy for the UI it serves: the renderer's, plus what only a header can
 * say (no framing, no <base>, no form posts, no plugins).
 */
export const HOSTED_UI_SECURITY_POLICY = `${CONTENT_SECURITY_POLICY}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'`;

/** The policy of the host's API answers (JSON and the event stream): nothing to render, nothing to frame. */
export const API_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'";
