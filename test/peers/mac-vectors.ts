/**
 * MEGA's reference meta-MAC and its known-answer vectors, from the shared folder beside the
 * repository (`../shared/mega-mac-vectors.json` and `.mjs`; in CI the repository is cloned with
 * shared/ beside it). Loaded from there, not copied, so the tests check against the file everyone
 * else checks against. A missing file fails the tests that need it, with the path it looked at.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** `../shared` relative to the repository root (the parent of test/). */
export const SHARED_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared');

export interface MacVector {
  size: number;
  client: string;
  node_key_hex: string;
  why?: string;
}

export interface MacVectorFile {
  vectors: MacVector[];
  counter_examples: MacVector[];
  content_sha256: Record<string, string>;
}

/** The functions of mega-mac-vectors.mjs the tests use. */
export interface MacReference {
  content(size: number): Buffer;
  metaMac(data: Buffer, fileKey: Buffer, nonce: Buffer): Buffer;
  splitNodeKey(nodeKey: Buffer): { fileKey: Buffer; nonce: Buffer; metaMac: Buffer };
}

export function loadMacVectors(): MacVectorFile {
  return JSON.parse(readFileSync(join(SHARED_DIR, 'mega-mac-vectors.json'), 'utf8')) as MacVectorFile;
}

export async function loadMacReference(): Promise<MacReference> {
  const url = pathToFileURL(join(SHARED_DIR, 'mega-mac-vectors.mjs')).href;
  return (await import(/* @vite-ignore */ url)) as MacReference;
}

/** content(size) for every size, cut from one stream of the largest (content(n) is a prefix of content(n + k)). */
export function contentOf(reference: MacReference, sizes: number[]): (size: number) => Buffer {
  const all = reference.content(Math.max(0, ...sizes));
  return (size) => all.subarray(0, size);
}
