import { describe, expect, it, vi } from 'vitest';
import type { FileProgress } from '../../../shared/contract';

const apiMock = vi.hoisted(() => ({ getBatch: vi.fn() }));
vi.mock('../api', () => ({ api: () => apiMock, errorText: String }));
const { batchPercent, useTransfers } = await import('./transfers');

const file = (status: FileProgress['status'], moved: number, total: number | null): FileProgress => ({
  code: 'c',
  bucket_name: 'b',
  remote_key: 'k',
  s4_key: '/k',
  status,
  progress: total ? (moved / total) * 100 : 0,
  transferred_bytes: moved,
  total_bytes: total,
  speed: 0,
  eta_seconds: null,
  retry_count: 0,
  error_message: null,
});

const summary = (ids: string[]) => ({
  batch_id: 'batch_x',
  total_files: ids.length,
  completed: 0,
  transferring: 0,
  pending: 0,
  failed: 0,
  cancelled: 0,
  overall_status: 'in_progress' as const,
  fileIds: ids,
});

describe('batchPercent', () => {
  it('weighs by bytes when every size is known', () => {
    const files = { a: file('done', 100, 100), b: file('processing', 100, 300) };
    expect(batchPercent(summary(['a', 'b']), files)).toBe(50);
  });
  it('counts a cancelled file by what it moved, not as finished', () => {
    const files = { a: file('cancelled', 16, 100) };
    expect(batchPercent(summary(['a']), files)).toBe(16);
  });
  it('falls back to files when a size is unknown', () => {
    const files = { a: file('done', 5, null), b: file('pending', 0, 10) };
    expect(batchPercent(summary(['a', 'b']), files)).toBe(50);
  });
});

describe('the end of a batch', () => {
  it('is announced also when the batch ended before the page knew of it', async () => {
    const done = { ...file('done', 10, 10), code: 'only' };
    apiMock.getBatch.mockResolvedValue({
      ...summary([]),
      batch_id: 'batch_fast',
      total_files: 1,
      completed: 1,
      overall_status: 'completed',
      files: [done],
    });
    expect(useTransfers.getState().batches.batch_fast).toBeUndefined();
    useTransfers.getState().applyEvent({
      type: 'batch',
      batch_id: 'batch_fast',
      overall_status: 'completed',
      state: 'finished',
    } as Parameters<ReturnType<typeof useTransfers.getState>['applyEvent']>[0]);
    await vi.waitFor(() => expect(useTransfers.getState().ended?.id).toBe('batch_fast'));
    expect(useTransfers.getState().batches.batch_fast?.overall_status).toBe('completed');
    expect(apiMock.getBatch).toHaveBeenCalledWith('batch_fast');
  });
});
