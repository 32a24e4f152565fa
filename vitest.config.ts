import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts', 'e2e/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration suites start their own peers; two cores, so run files two at a time.
    maxWorkers: 2,
    // s3rver signs its ListObjectsV2 continuation tokens with DES, which OpenSSL 3 keeps in its
    // legacy provider: without it s3rver cannot page a listing.
    execArgv: ['--openssl-legacy-provider'],
    reporters: ['default'],
    // mega-mock's HTTP framework prints the stack of every upload error a test injects on purpose.
    onConsoleLog: (log) => !log.includes('simulateUploadError'),
  },
});
