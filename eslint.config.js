// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/** Import boundaries from ARCHITECTURE.md, enforced by the linter. */
const noElectron = {
  name: 'electron',
  message: 'electron may be imported only in src/main/desktop (and src/preload).',
};

export default tseslint.config(
  { ignores: ['.scratch/**', 'out/**', 'dist/**', 'node_modules/**', 'coverage/**', 'test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/main/engine/**', 'src/main/store/**', 'src/shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [noElectron],
          patterns: [
            {
              group: ['**/host/**', '**/cli/**', '**/desktop/**', '**/renderer/**'],
              message: 'the engine and store never import host, cli, desktop or renderer code.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/main/host/**', 'src/main/cli/**', 'src/main/service/**', 'scripts/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [noElectron],
          patterns: [{ group: ['**/desktop/**', '**/renderer/**'], message: 'only desktop binds electron.' }],
        },
      ],
    },
  },
  {
    // Tests may drive the IPC dispatcher (pure: no electron) against the real service.
    files: ['test/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [noElectron],
          patterns: [
            {
              group: ['**/desktop/**', '!**/desktop/ipc-dispatch', '**/renderer/**'],
              message: 'only desktop binds electron.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [noElectron],
          patterns: [
            { group: ['**/main/**', 'node:*'], message: 'the renderer never imports main code or Node.' },
          ],
        },
      ],
    },
  },
);
