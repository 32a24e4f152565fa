import { describe, expect, it } from 'vitest';
import {
  groupByPrefix,
  manifestKind,
  ManifestError,
  parentPrefix,
  parseManifest,
  parseManifestText,
} from './manifest';
import { csvField, parseCsv, toCsv } from './csv';

describe('manifestKind', () => {
  it('knows csv, txt and json, in any case', () => {
    expect(manifestKind('keys.CSV')).toBe('csv');
    expect(manifestKind('list.txt')).toBe('txt');
    expect(manifestKind('a.b.json')).toBe('json');
    expect(manifestKind('photo.jpg')).toBeNull();
    expect(manifestKind('folder')).toBeNull();
  });
});

describe('parseManifest: CSV', () => {
  it('reads the key column and an optional code column, in any order', () => {
    const text = 'code,key,size\r\nC1,photos/a.jpg,10\r\n,photos/b.jpg,11\r\n';
    expect(parseManifest('m.csv', text)).toEqual([
      { key: 'photos/a.jpg', code: 'C1' },
      { key: 'photos/b.jpg' },
    ]);
  });
  it('handles quotes, commas in keys, a BOM, blank lines and duplicates', () => {
    const text = '\uFEFFKey\n"docs/a, b.pdf"\n"say ""hi"".txt"\n\nmusic/x.mp3\nmusic/x.mp3\n';
    expect(parseManifest('m.csv', text)).toEqual([
      { key: 'docs/a, b.pdf' },
      { key: 'say "hi".txt' },
      { key: 'music/x.mp3' },
    ]);
  });
  it('says what is missing without a key column', () => {
    expect(() => parseManifest('m.csv', 'name\nfoo\n')).toThrow(ManifestError);
    expect(() => parseManifest('m.csv', 'name\nfoo\n')).toThrow(/no "key" column/);
  });
  it('accepts a header-only file as empty', () => {
    expect(parseManifest('m.csv', 'key,code\n')).toEqual([]);
  });
});

describe('parseManifest: TXT', () => {
  it('takes one key per line, trimming and skipping blanks', () => {
    expect(parseManifest('k.txt', 'a.jpg\r\n  b/c.png  \n\n\na.jpg\n')).toEqual([
      { key: 'a.jpg' },
      { key: 'b/c.png' },
    ]);
  });
  it('skips # comment lines (as keys files for the CLI may hold)', () => {
    expect(
      parseManifestText('txt', '# photos to move\nphotos/a.jpg\n  # done later\nphotos/b.jpg\n', 'keys'),
    ).toEqual([{ key: 'photos/a.jpg' }, { key: 'photos/b.jpg' }]);
  });
});

describe('parseManifest: JSON', () => {
  it('takes an array of strings', () => {
    expect(parseManifest('k.json', '["a", "b/c"]')).toEqual([{ key: 'a' }, { key: 'b/c' }]);
  });
  it('takes an array of {key, code?} (numeric codes become text)', () => {
    expect(parseManifest('k.json', '[{"key":"a","code":"X"},{"key":"b"},{"key":"c","code":7}]')).toEqual([
      { key: 'a', code: 'X' },
      { key: 'b' },
      { key: 'c', code: '7' },
    ]);
  });
  it('rejects what it cannot read with a reason', () => {
    expect(() => parseManifest('k.json', '{')).toThrow(/not valid JSON/);
    expect(() => parseManifest('k.json', '{"key":"a"}')).toThrow(/array/);
    expect(() => parseManifest('k.json', '[1]')).toThrow(/item 1/);
  });
});

describe('parentPrefix / groupByPrefix', () => {
  it('groups keys by folder', () => {
    expect(parentPrefix('a/b/c.jpg')).toBe('a/b/');
    expect(parentPrefix('c.jpg')).toBe('');
    expect([...groupByPrefix(['a/1', 'b/2', 'a/3', 'top'])]).toEqual([
      ['a/', ['a/1', 'a/3']],
      ['b/', ['b/2']],
      ['', ['top']],
    ]);
  });
});

describe('csv', () => {
  it('quotes only when needed', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(' padded')).toBe('" padded"');
    expect(csvField(null)).toBe('');
    expect(csvField(3)).toBe('3');
  });
  it('round-trips through the reader', () => {
    const rows = [
      { a: 'x,y', b: 'q"r' },
      { a: 'line\r\nbreak', b: '' },
    ];
    const text = toCsv(
      [
        { header: 'a', value: (r: (typeof rows)[number]) => r.a },
        { header: 'b', value: (r: (typeof rows)[number]) => r.b },
      ],
      rows,
    );
    expect(parseCsv(text)).toEqual([
      ['a', 'b'],
      ['x,y', 'q"r'],
      ['line\r\nbreak', ''],
    ]);
  });
});
