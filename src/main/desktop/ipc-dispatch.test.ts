/**
 * The desktop IPC binding without Electron: the generic dispatcher (ipc-dispatch) and the envelope
 * protocol the preload unwraps (src/shared/ipc).
 */
import { NotFoundError } from '../engine/errors';
import { describe, expect, it } from 'vitest';
import { FERRY_API_METHODS } from '../../shared/api';
import { isFerryApiMethod, unwrapEnvelope } from '../../shared/ipc';
import { type ApiTarget, createDispatcher } from './ipc-dispatch';

/** A stand-in for the service: only the call plumbing is under test here. */
function fakeApi(overrides: Partial<Record<string, (...args: unknown[]) => Promise<unknown>>> = {}) {
  const calls: { method: string; args: unknown[]; self: unknown }[] = [];
  const api: Record<string, unknown> = {};
  for (const m of FERRY_API_METHODS) {
    api[m] = async function (this: unknown, ...args: unknown[]) {
      calls.push({ method: m, args, self: this });
      return overrides[m] ? overrides[m](...args) : { method: m, args };
    };
  }
  return { api: api as unknown as ApiTarget, calls };
}

describe('the generic dispatcher', () => {
  it('binds every method of FERRY_API_METHODS, with its arguments and `this`', async () => {
    const { api, calls } = fakeApi();
    const dispatch = createDispatcher(() => api);
    for (const m of FERRY_API_METHODS) {
      const answer = await dispatch(m, ['x', 2]);
      expect(answer).toEqual({ ok: true, value: { method: m, args: ['x', 2] } });
    }
    expect(calls.map((c) => c.method)).toEqual([...FERRY_API_METHODS]);
    expect(calls.every((c) => c.self === api)).toBe(true);
  });

  it('rejects unknown methods, prototype names and non-strings without calling anything', async () => {
    const { api, calls } = fakeApi();
    const dispatch = createDispatcher(() => api);
    for (const bad of ['close', 'onEvent', 'constructor', '__proto__', 'toString', '', 42, null, undefined]) {
      const answer = await dispatch(bad, []);
      expect(answer.ok).toBe(false);
      if (!answer.ok) expect(answer.error).toMatch(/^unknown API method: /);
    }
    expect(calls).toHaveLength(0);
    expect(isFerryApiMethod('getBatch')).toBe(true);
    expect(isFerryApiMethod('hasOwnProperty')).toBe(false);
  });

  it('rejects malformed argument lists', async () => {
    const { api } = fakeApi();
    const dispatch = createDispatcher(() => api);
    expect(await dispatch('getBatch', 'batch_a')).toEqual({
      ok: false,
      error: 'getBatch: arguments must be a list',
      kind: 'input',
    });
    expect((await dispatch('getBatch', [1, 2, 3, 4, 5])).ok).toBe(false);
    expect(await dispatch('health', undefined)).toMatchObject({ ok: true });
  });

  it('answers an error with an envelope carrying only its message and its kind', async () => {
    const { api } = fakeApi({
      getBatch: async (id) => {
        throw new NotFoundError(`unknown batch: ${String(id)}`);
      },
      listBuckets: async () => {
        throw 'a string';
      },
    });
    const dispatch = createDispatcher(() => api);
    expect(await dispatch('getBatch', ['batch_zz'])).toEqual({
      ok: false,
      error: 'unknown batch: batch_zz',
      kind: 'not_found',
    });
    expect(await dispatch('listBuckets', [])).toEqual({ ok: false, error: 'a string', kind: 'unexpected' });
  });

  it('redacts secrets from error messages', async () => {
    const { api } = fakeApi({
      saveSettings: async () => {
        throw new Error(
          'cannot connect to mongodb://ann:hunter2@db.example:27017/megaferry (password=hunter2, retrying)',
        );
      },
      listObjects: async () => {
        throw new Error('GET https://s3/x?X-Amz-Credential=AKIA123&X-Amz-Signature=deadbeef failed');
      },
    });
    const dispatch = createDispatcher(() => api);
    const a = await dispatch('saveSettings', [{}]);
    const b = await dispatch('listObjects', [{ bucket: 'b' }]);
    expect(JSON.stringify([a, b])).not.toMatch(/hunter2|AKIA123|deadbeef/);
    expect(a).toEqual({
      ok: false,
      error: 'cannot connect to mongodb://***@db.example:27017/megaferry (password=***, retrying)',
      kind: 'unexpected',
    });
  });

  it('waits for a service still opening, and reports one that failed to open', async () => {
    const { api } = fakeApi();
    let open!: (a: ApiTarget) => void;
    const opening = new Promise<ApiTarget>((resolve) => (open = resolve));
    const dispatch = createDispatcher(() => opening);
    const answer = dispatch('health', []);
    open(api);
    expect(await answer).toMatchObject({ ok: true });

    const failed = Promise.reject(new Error('MEGA account not configured: set MEGA_EMAIL and MEGA_PASSWORD'));
    failed.catch(() => undefined);
    const broken = createDispatcher(() => failed);
    expect(await broken('listBatches', [])).toEqual({
      ok: false,
      error: 'MEGA account not configured: set MEGA_EMAIL and MEGA_PASSWORD',
      kind: 'unexpected',
    });
  });
});

describe('the envelope the preload unwraps', () => {
  it('gives the value, or an Error with just the message', () => {
    expect(unwrapEnvelope({ ok: true, value: { a: 1 } })).toEqual({ a: 1 });
    expect(() => unwrapEnvelope({ ok: false, error: 'unknown batch: batch_x' })).toThrow(
      new Error('unknown batch: batch_x'),
    );
    expect(() => unwrapEnvelope(undefined)).toThrow(/malformed/);
  });
});
