import { describe, expect, it, vi } from 'vitest';

// The module reads the API client at call time only; planLocalDrop is pure.
vi.mock('./api', () => ({ api: () => null, errorText: String }));
vi.mock('./stores/app', () => ({ useApp: {} }));
vi.mock('./stores/browse', () => ({ useBrowse: {} }));
vi.mock('./stores/transfers', () => ({ recordStart: () => undefined }));

const { planLocalDrop } = await import('./transfer-actions');

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
