// ESLint for lambdaflow: typescript-eslint's recommended type-checked rules over every TypeScript source (`npm run lint`).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  // test/fixtures holds trees that are read, never built (architecture-violations breaks the import rules on purpose).
  { ignores: ['dist/', 'data/', 'node_modules/', 'bench/results/', 'test-results/', 'test/fixtures/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // tsconfig.json builds main.ts, src/, workers/ and bench/; tsconfig.test.json adds test/ and the vitest configs.
        project: ['./tsconfig.json', './tsconfig.test.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // An async function without await is how an API that may throw rejects instead (STYLE: async APIs never throw
      // synchronously), and how a test double implements an async port.
      '@typescript-eslint/require-await': 'off',
      // `const { crc32: _crc, ...rest } = …` is how a field is left out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // vitest types its asymmetric matchers (expect.stringMatching, expect.objectContaining, …) as `any`.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      // Tests match control characters on purpose: the CLI's \r\x1b[K progress lines, control bytes in user ids.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
);
