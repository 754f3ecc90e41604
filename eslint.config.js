import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'certs/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', {
        object: 'process', property: 'env',
        message: 'Only src/config.ts reads the environment (DESIGN.md §4.6).',
      }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/auth/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{
        group: ['**/auth/issue-context.js'],
        message: 'Only src/auth constructs a TenantContext (DESIGN.md §4.2).',
      }] }],
    },
  },
  {
    files: ['src/config.ts', 'test/**', 'bench/**', 'vitest.config.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
