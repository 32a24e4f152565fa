import { describe, expect, it } from 'vitest';
import { FERRY_API_METHODS } from '../../../shared/api';
import type { MegaFerryBridge } from '../../../shared/ipc';
import { createIpcClient } from './ipc-client';

describe('createIpcClient', () => {
  it('forwards every API method by name with its arguments through the one invoke', async () => {
    const calls: unknown[][] = [];
    const bridge = {
      invoke: (method: string, ...args: unknown[]) => {
        calls.push([method, ...args]);
        return Promise.resolve(`answer of ${method}`);
      },
      onEvent: () => () => undefined,
      pathForFile: () => '',
      platform: 'linux',
    } as unknown as MegaFerryBridge;
    const client = createIpcClient(bridge) as unknown as Record<
      string,
      (...a: unknown[]) => Promise<unknown>
    >;
    for (const method of FERRY_API_METHODS) {
      expect(await client[method]?.('arg-1', 2)).toBe(`answer of ${method}`);
    }
    expect(calls).toEqual(FERRY_API_METHODS.map((m) => [m, 'arg-1', 2]));
  });
});
