import { describe, expect, it, vi } from 'vitest';

// The module reads the API client at call time only; planLocalDrop is pure.
vi.mock('./api', () => ({ api: () => null, errorText: String }));
vi.mock('./stores/app', () => ({ useApp: {} }));
vi.mock('./stores/browse', () => ({ useBrowse: {} }));
vi.mock('./stores/transfers', () => ({ recordStart: () => undefined }));

const { planLocalDrop, folderKeysOverCap } = await import('./transfer-actions');

describe('folderKeysOverCap', () => {
  // A folder tree as the one-level listing shows it: photos/ holds 3 objects and 2 subfolders.
  const tree: Record<string, { folders: string[]; objects: string[] }> = {
    'photos/': { folders: ['photos/2023/', 'photos/2024/'], objects: ['photos/a', 'photos/b', 'photos/c'] },
    'photos/2023/': { folders: [], objects: ['photos/2023/x', 'photos/2023/y'] },
    'photos/2024/': { folders: [], objects: Array.from({ length: 5 }, (_, i) => `photos/2024/${i}`) },
  };
  const calls: string[] = [];
  const list = async (q: { prefix: string; token?: string }) => {
    calls.push(`${q.prefix}|${q.token ?? ''}`);
    const node = tree[q.prefix] ?? { folders: [], objects: [] };
    // Two pages per folder: the objects split in halves, the folders on the first page.
    const half = Math.ceil(node.objects.length / 2);
    const second = q.token === 'p2';
    return {
      folders: second ? [] : node.folders,
      objects: (second ? node.objects.slice(half) : node.objects.slice(0, half)).map((key) => ({
        key,
        size: key.endsWith('x') ? 5000 : 10,
        last_modified: null,
      })),
      next_token: second || half === node.objects.length ? null : 'p2',
    };
  };

  it('walks every subfolder and page, and gives the keys when they are more than a batch holds', async () => {
    const keys = await folderKeysOverCap(list, 'b', 'photos/', 4);
    expect(keys?.sort()).toEqual([...Object.values(tree).flatMap((n) => n.objects)].sort());
    expect(calls).toContain('photos/2024/|p2');
  });

  it('takes only the objects the filters let through', async () => {
    const keys = await folderKeysOverCap(list, 'b', 'photos/', 1, { exclude: ['photos/2024/**'] });
    expect(keys?.sort()).toEqual(['photos/2023/x', 'photos/2023/y', 'photos/a', 'photos/b', 'photos/c']);
    expect(await folderKeysOverCap(list, 'b', 'photos/', 0, { min_size: '1K' })).toEqual(['photos/2023/x']);
  });

  it('gives null when the folder fits in one batch (it is sent as its prefix)', async () => {
    expect(await folderKeysOverCap(list, 'b', 'photos/', 10)).toBeNull();
  });
});

describe('planLocalDrop', () => {
  it('groups files by parent folder and turns folders into prefixes', () => {
    expect(
      planLocalDrop([
        { path: '/home/ann/Pictures/a.jpg', folder: false },
        { path: '/home/ann/Pictures/b.jpg', folder: false },
        { path: '/home/ann/Pictures/Trip', folder: true },
        { path: '/srv/x.bin', folder: false },
        { path: '/top.txt', folder: false },
      ]),
    ).toEqual([
      { parent: '/home/ann/Pictures', keys: ['a.jpg', 'b.jpg'], prefixes: ['Trip/'] },
      { parent: '/srv', keys: ['x.bin'], prefixes: [] },
      { parent: '/', keys: ['top.txt'], prefixes: [] },
    ]);
  });
  it('understands Windows paths', () => {
    expect(
      planLocalDrop([
        { path: 'C:\\Users\\ann\\Desktop\\report.pdf', folder: false },
        { path: 'D:\\Photos', folder: true },
      ]),
    ).toEqual([
      { parent: 'C:\\Users\\ann\\Desktop', keys: ['report.pdf'], prefixes: [] },
      { parent: 'D:\\', keys: [], prefixes: ['Photos/'] },
    ]);
  });
});
