/** The tray tooltip and the batch-end notification texts (src/shared/batch-summary.ts), in English and in Chinese. */
import { describe, expect, it } from 'vitest';
import { batchEndNotification, batchTotals, trayTooltip } from '../src/shared/batch-summary';
import type { BatchStatus, FileProgress, FileStatus } from '../src/shared/contract';
import { createI18n } from '../src/shared/i18n';

function file(code: string, status: FileStatus, total: number | null, transferred = 0): FileProgress {
  const finished = status !== 'pending' && status !== 'processing';
  return {
    code,
    bucket_name: 'media',
    remote_key: code,
    s4_key: `/Archive/${code}`,
    status,
    progress: status === 'done' ? 100 : total ? Math.floor((transferred / total) * 100) : 0,
    transferred_bytes: status === 'done' && total ? total : transferred,
    total_bytes: total,
    speed: finished ? 0 : 1000,
    eta_seconds: null,
    retry_count: 0,
    error_message: status.endsWith('failed') ? 'boom' : null,
  };
}

function batch(id: string, files: FileProgress[], overall?: BatchStatus['overall_status']): BatchStatus {
  const count = (...s: FileStatus[]) => files.filter((f) => s.includes(f.status)).length;
  return {
    batch_id: id,
    total_files: files.length,
    completed: count('done'),
    transferring: count('processing'),
    pending: count('pending'),
    failed: count('s3_download_failed', 's4_upload_failed', 'error'),
    cancelled: count('cancelled'),
    overall_status: overall ?? (count('pending', 'processing') > 0 ? 'in_progress' : 'completed'),
    bucket: 'media',
    target: '/Archive',
    files,
  };
}

const many = (prefix: string, n: number, status: FileStatus, size = 100, transferred = 0) =>
  Array.from({ length: n }, (_, i) => file(`${prefix}${i}`, status, size, transferred));

describe('trayTooltip', () => {
  it('says idle with no batch in progress', () => {
    expect(trayTooltip([])).toBe('MegaFerry — idle');
    expect(trayTooltip([batch('batch_a', many('d', 3, 'done'), 'completed')])).toBe('MegaFerry — idle');
  });

  it('sums the batches in progress: transferring, done of total, percent by bytes', () => {
    const a = batch('batch_a', [
      ...many('d', 12, 'done'),
      ...many('p', 3, 'processing', 100, 50),
      ...many('w', 25, 'pending'),
    ]);
    // bytes: 12×100 done + 3×50 moving of 40×100 → 1350/4000 = 33%; three files at 1000 B/s
    expect(trayTooltip([a])).toBe('MegaFerry — 3 transferring, 12 of 40 done, 33%, 2.9 KiB/s');
  });

  it('names failures and waits, and never says 100% while something remains', () => {
    const b = batch('batch_b', [...many('d', 98, 'done', 1000), ...many('f', 1, 'error', 1000)]);
    b.files.push(file('w', 'pending', 1));
    Object.assign(b, { total_files: 100, pending: 1, overall_status: 'in_progress' });
    expect(trayTooltip([b])).toBe('MegaFerry — 1 waiting, 98 of 100 done, 1 failed, 99%');
  });

  it('counts by files when a size is unknown', () => {
    const c = batch('batch_c', [file('a', 'done', null), file('b', 'processing', null)]);
    c.files[1]!.progress = 50;
    expect(batchTotals([c]).percent).toBe(75);
  });
});

const hansT = createI18n('zh-Hans').t;

describe('batchEndNotification', () => {
  it('a completed batch', () => {
    const n = batchEndNotification(batch('batch_a', many('d', 40, 'done'), 'completed'));
    expect(n).toEqual({ title: 'Batch finished', body: '40 done\ns3://media → MEGA /Archive' });
  });

  it('a batch with failures', () => {
    const b = batch('batch_a', [...many('d', 38, 'done'), ...many('f', 2, 's4_upload_failed')], 'partial');
    expect(batchEndNotification(b).title).toBe('Batch finished with failures');
    expect(batchEndNotification(b).body.split('\n')[0]).toBe('38 done, 2 failed');
  });

  it('a failed and a cancelled batch', () => {
    expect(batchEndNotification(batch('batch_f', many('f', 2, 'error'), 'failed')).title).toBe(
      'Batch failed',
    );
    const c = batch('batch_c', [...many('d', 1, 'done'), ...many('c', 4, 'cancelled')], 'cancelled');
    expect(batchEndNotification(c)).toMatchObject({ title: 'Batch cancelled' });
    expect(batchEndNotification(c).body).toMatch(/^1 done, 4 cancelled/);
  });

  it('local files name their folder', () => {
    const b = { ...batch('batch_l', many('d', 1, 'done'), 'completed'), bucket: 'local:/home/ann/Photos' };
    expect(batchEndNotification(b).body).toBe('1 done\n/home/ann/Photos → MEGA /Archive');
  });

  it('several batches ending together make one notification', () => {
    const n = batchEndNotification([
      batch('batch_a', many('d', 3, 'done'), 'completed'),
      batch('batch_b', [...many('e', 2, 'done'), ...many('f', 1, 'error')], 'partial'),
    ]);
    expect(n).toEqual({ title: '2 batches finished with failures', body: '5 done, 1 failed\n✗ f0: error' });
    const cancelled = batchEndNotification([
      batch('batch_a', many('c', 3, 'cancelled'), 'cancelled'),
      batch('batch_b', many('x', 2, 'cancelled'), 'cancelled'),
    ]);
    expect(cancelled).toEqual({ title: '2 batches cancelled', body: '5 cancelled' });
  });

  it('ends with the summary: skipped apart, bytes, time and average speed, the first failures and how many more', () => {
    const started = '2026-01-05T10:00:00.000Z';
    const b: BatchStatus = {
      ...batch('batch_s', [
        ...many('d', 4, 'done', 1024 * 1024),
        { ...file('k', 'done', 2048), skipped: true },
        ...many('f', 5, 's4_upload_failed'),
      ]),
      overall_status: 'partial',
      created_at: started,
      finished_at: '2026-01-05T10:00:02.000Z',
    };
    const n = batchEndNotification(b);
    expect(n.body.split('\n')).toEqual([
      '4 done, 1 skipped, 5 failed',
      '4.0 MiB in 2.0s, 2.0 MiB/s',
      's3://media → MEGA /Archive',
      '✗ f0: boom',
      '✗ f1: boom',
      '✗ f2: boom',
      '… and 2 more failed',
    ]);
    expect(batchEndNotification(b, hansT).body.split('\n').slice(0, 2)).toEqual([
      '4 个已完成，1 个已跳过，5 个失败',
      '4.0 MiB，用时 2.0s，2.0 MiB/s',
    ]);
  });

  it('an empty batch', () => {
    expect(batchEndNotification(batch('batch_e', [], 'completed')).body).toBe(
      'no files\ns3://media → MEGA /Archive',
    );
  });
});

describe('in Chinese', () => {
  const hans = createI18n('zh-Hans').t;
  const hant = createI18n('zh-Hant').t;

  it('the tooltip', () => {
    const a = batch('batch_a', [
      ...many('d', 12, 'done'),
      ...many('p', 3, 'processing', 100, 50),
      ...many('w', 25, 'pending'),
    ]);
    expect(trayTooltip([a], hans)).toBe('MegaFerry — 3 个传输中，已完成 12/40，33%，2.9 KiB/s');
    expect(trayTooltip([a], hant)).toBe('MegaFerry — 3 個傳輸中，已完成 12/40，33%，2.9 KiB/s');
    expect(trayTooltip([], hant)).toBe('MegaFerry — 閒置');
  });

  it('the notifications', () => {
    const b = batch('batch_a', [...many('d', 38, 'done'), ...many('f', 2, 's4_upload_failed')], 'partial');
    expect(batchEndNotification(b, hans)).toEqual({
      title: '批次已完成，部分失败',
      body: '38 个已完成，2 个失败\ns3://media → MEGA /Archive\n✗ f0：boom\n✗ f1：boom',
    });
    const local = { ...batch('batch_l', many('c', 4, 'cancelled'), 'cancelled'), bucket: 'local:' };
    expect(batchEndNotification(local, hant)).toEqual({
      title: '批次已取消',
      body: '4 個已取消\n本機檔案 → MEGA /Archive',
    });
    const two = batchEndNotification(
      [
        batch('batch_a', many('d', 3, 'done'), 'completed'),
        batch('batch_b', many('e', 2, 'done'), 'completed'),
      ],
      hant,
    );
    expect(two).toEqual({ title: '2 個批次已完成', body: '5 個已完成' });
  });
});
