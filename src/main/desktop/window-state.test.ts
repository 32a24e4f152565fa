/** The window's remembered bounds and the link policy of the desktop shell (pure parts). */
import { describe, expect, it } from 'vitest';
import { isOnScreen, parseWindowState, restorableState, serializeWindowState } from './window-state';
import { CONTENT_SECURITY_POLICY, isAllowedExternalUrl } from '../../shared/web-policy';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const laptop = { x: 0, y: 0, width: 1920, height: 1050 };
const right = { x: 1920, y: 0, width: 2560, height: 1400 };

describe('window state', () => {
  it('round-trips and rejects malformed or absurd files', () => {
    const state = { bounds: { x: 10, y: 20, width: 1200, height: 800 }, maximized: true };
    expect(parseWindowState(serializeWindowState(state))).toEqual(state);
    for (const bad of [
      null,
      '',
      'nope',
      '[]',
      '{"bounds":{"x":1,"y":2,"width":"1200","height":800}}',
      '{"bounds":{"x":1,"y":2,"width":10,"height":10}}',
      '{"bounds":{"x":1.5,"y":2,"width":1200,"height":800}}',
    ]) {
      expect(parseWindowState(bad)).toBeNull();
    }
  });

  it('is ignored when the window would be off-screen (a monitor that is gone)', () => {
    const onRight = { bounds: { x: 2200, y: 100, width: 1200, height: 800 }, maximized: false };
    expect(restorableState(onRight, [laptop, right])).toEqual(onRight);
    expect(restorableState(onRight, [laptop])).toBeNull();
    expect(isOnScreen({ x: -1150, y: 10, width: 1200, height: 800 }, [laptop])).toBe(false);
    expect(isOnScreen({ x: 100, y: -500, width: 1200, height: 800 }, [laptop])).toBe(false);
    expect(isOnScreen({ x: -200, y: 0, width: 1200, height: 800 }, [laptop])).toBe(true);
  });
});

describe('link policy', () => {
  it('opens only https://mega.nz/ links outside', () => {
    expect(isAllowedExternalUrl('https://mega.nz/file/abc#key')).toBe(true);
    expect(isAllowedExternalUrl('https://mega.nz/')).toBe(true);
    for (const url of [
      'http://mega.nz/file/abc',
      'https://mega.nz.evil.example/',
      'https://evil.example/?https://mega.nz/',
      'https://user:pw@mega.nz/',
      'https://mega.nz:8443/',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'not a url',
    ]) {
      expect(isAllowedExternalUrl(url)).toBe(false);
    }
  });

  it("the renderer's <meta> carries the same Content-Security-Policy", () => {
    const html = readFileSync(resolve(__dirname, '..', '..', 'renderer', 'index.html'), 'utf8');
    expect(html.replace(/\s+/g, ' ')).toContain(`content="${CONTENT_SECURITY_POLICY}"`);
  });
});
