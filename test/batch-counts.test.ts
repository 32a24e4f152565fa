import { describe, expect, it } from 'vitest';
import { countStatuses, overallStatusOf } from '../src/shared/batch-counts';
import type { FileStatus } from '../src/shared/contract';

describe('one way to count a batch', () => {
  it('counts each status once, failures apart from cancellations', () => {
    const statuses: FileStatus[] = [
      'done',
      'done',
      'processing',
      'pending',
      'cancelled',
      's3_download_failed',
      'error',
    ];
    expect(countStatuses(statuses)).toEqual({
      completed: 2,
      transferring: 1,
      pending: 1,
      failed: 2,
      cancelled: 1,
    });
  });

  it('derives the overall status of SPEC.md', () => {
    const of = (state: 'running' | 'finished' | 'cancelled', statuses: FileStatus[]) =>
      overallStatusOf(state, statuses.length, countStatuses(statuses));
    expect(of('running', ['done', 'pending'])).toBe('in_progress');
    expect(of('finished', ['done', 'done'])).toBe('completed');
    expect(of('finished', ['done', 's4_upload_failed'])).toBe('partial');
    expect(of('finished', ['error', 's4_upload_failed'])).toBe('failed');
    expect(of('finished', ['done', 'cancelled'])).toBe('cancelled');
    expect(of('cancelled', ['done', 'processing'])).toBe('cancelled');
  });
});
