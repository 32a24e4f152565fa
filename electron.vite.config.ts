import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  // Main: ES module (package.json "type": "module"), out/main/index.js = package.json "main".
  // Dependencies stay external (node_modules; electron-builder packs the production ones).
  main: {
    build: {
      rolldownOptions: { input: { index: resolve(__dirname, 'src/main/desktop/main.ts') } },
    },
  },
  // Preload: the window is sandboxed, and a sandboxed preload is run as a plain CommonJS script
  // that can require only `electron`, so it is emitted as CJS (out/preload/index.cjs) with
  // everything else bundled in.
  preload: {
    build: {
      externalizeDeps: false,
      rolldownOptions: {
        input: { index: resolve(__dirname, 'src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs', chunkFileNames: '[name]-[hash].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    build: {
      rolldownOptions: { input: { index: resolve(__dirname, 'src/renderer/index.html') } },
    },
    plugins: [react()],
  },
});
