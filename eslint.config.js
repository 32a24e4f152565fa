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
    files: ['src/main/host/**', 'src/main/cli/**', 'src/main/service/**', 'test/**', 'scripts/**'],
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
