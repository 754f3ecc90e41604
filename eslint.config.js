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
    // Minting a TenantContext: src/auth only, and in tests through the one fixture that
    // stands in for a checked credential (test/unit/tenant-context-minting.test.ts holds this).
    files: ['**/*.ts', '**/*.js', '**/*.mjs', '**/*.cjs'],
    ignores: ['src/auth/**', 'test/support/fixtures.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{
        group: ['**/auth/issue-context', '**/auth/issue-context.*'],
        message: 'Only src/auth constructs a TenantContext (DESIGN.md §4.2); tests use contextFor() in test/support/fixtures.ts.',
      }] }],
    },
  },
  {
    // The Alexa Lambda forwarder is deployed on its own (AWS Lambda, Node.js globals), not part of the gateway.
    files: ['deploy/alexa-lambda/**'],
    languageOptions: { globals: { URL: 'readonly', AbortSignal: 'readonly', fetch: 'readonly' } },
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['src/config.ts', 'test/**', 'bench/**', 'vitest.config.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
