import { describe, expect, it } from 'vitest';
import { BUCKET_NAME, keyProblem, prefixProblem, targetProblem } from '../src/shared/object-paths';
import { s4Key } from '../src/main/engine/paths';

describe('object keys, prefixes and targets that stay inside the target folder', () => {
  it('accepts ordinary keys, dots inside names, spaces and non-ASCII', () => {
    for (const key of [
      'a.bin',
      'photos/2024/a.jpg',
      '.hidden',
      'a..b',
      '...',
      'dir/.x/y',
      'Café 😀.mp4',
      'a//b',
    ]) {
      expect(keyProblem(key), key).toBeNull();
    }
  });

  it('refuses ".", "..", control characters, empty and over-long keys, naming why', () => {
    expect(keyProblem('..')).toMatch(/"\." or "\.\." path segments/);
    expect(keyProblem('.')).toMatch(/segments/);
    expect(keyProblem('../../etc/passwd')).toMatch(/outside the target folder/);
    expect(keyProblem('ok/../../../x.bin')).toMatch(/segments/);
    expect(keyProblem('a/.')).toMatch(/segments/);
    expect(keyProblem('a\u0000b')).toMatch(/control characters/);
    expect(keyProblem('a\nb')).toMatch(/control characters/);
    expect(keyProblem('a\u0085b')).toMatch(/control characters/);
    expect(keyProblem('')).toMatch(/empty/);
    expect(keyProblem('é'.repeat(513))).toMatch(/1024 bytes/); // 1026 UTF-8 bytes
    expect(keyProblem('é'.repeat(512))).toBeNull();
  });

  it('refuses prefixes with whole dot segments but not a name that starts with a dot', () => {
    expect(prefixProblem('photos/.')).toBeNull();
    expect(prefixProblem('photos/')).toBeNull();
    expect(prefixProblem('')).toBeNull();
    expect(prefixProblem('../')).toMatch(/segments/);
    expect(prefixProblem('a/./b')).toMatch(/segments/);
    expect(prefixProblem('a\u0000')).toMatch(/control/);
  });

  it('refuses relative targets, dot segments and control characters', () => {
    expect(targetProblem('/')).toBeNull();
    expect(targetProblem('/Backup/2024')).toBeNull();
    expect(targetProblem('Backup')).toMatch(/starting with "\/"/);
    expect(targetProblem('/a/../b')).toMatch(/"\." or "\.\."/);
    expect(targetProblem('/bad\u0000dir')).toMatch(/control/);
  });

  it('knows S3 bucket names', () => {
    for (const ok of ['media', 'my.bucket-1', 'Legacy_Bucket', 'abc'])
      expect(BUCKET_NAME.test(ok), ok).toBe(true);
    for (const bad of ['', 'ab', '../etc', 'a/b', '-ab', 'ab-', 'a b', 'local:/x']) {
      expect(BUCKET_NAME.test(bad), bad).toBe(false);
    }
  });

  it('never builds a destination path outside its target, even when asked to', () => {
    expect(s4Key('/Backup', 'photos/a.jpg')).toBe('/Backup/photos/a.jpg');
    expect(() => s4Key('/Backup', '../../etc/passwd')).toThrow(/segments/);
    expect(() => s4Key('/Back\u0000up', 'a')).toThrow(/control/);
  });
});
