// @ts-check
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'bench/.build/', 'bench/profiles/'] },

  js.configs.recommended,

  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        // Files outside tsconfig's include get a default program rather than a parse error.
        projectService: { allowDefaultProject: ['vitest.config.ts', 'campaigns/*.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      // Resolves our `./x.js` specifiers to the `.ts` sources, so the cycle check sees every edge.
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      // A promise nobody awaits loses its error and its ordering: the bugs a dialer can least afford.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      // `${x}` of a `never` is the exhaustive-switch fallback: it only runs on data the types did not foresee.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNever: true }],
      // Forwarding an AbortSignal's reason or a caught value keeps the original error; new rejections are still checked.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      // Route handlers and Promise-typed callbacks are async so a throw becomes a rejection; missing awaits are no-floating-promises' job.
      '@typescript-eslint/require-await': 'off',
      // Cycles make module start-up order matter; folders should point one way.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },

  {
    // The gate decides whether a person may be called; the dialer acts on it. Never the reverse.
    files: ['src/gate/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ group: ['../dialer/*'], message: 'src/gate must not depend on src/dialer' }] }],
    },
  },

  {
    // Only src/store spells Redis keys and commands; everything else calls its typed
    // methods. BullMQ may still be handed the runtime's connection (`connection: rt.redis`).
    files: ['src/**/*.ts'],
    ignores: ['src/store/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[object.type='MemberExpression'][object.property.name='redis']", message: 'Redis commands belong in src/store: add a typed method there' },
        { selector: "MemberExpression[property.name='redis'][object.name='store'], MemberExpression[property.name='redis'][object.property.name='store']", message: "the Store's connection is for src/store only: add a typed method there" },
        { selector: "VariableDeclarator > ObjectPattern > Property[key.name='redis']", message: 'Redis commands belong in src/store: add a typed method there' },
      ],
      'no-restricted-imports': ['error', { paths: [{ name: 'ioredis', message: 'Redis connections and commands belong in src/store' }] }],
    },
  },
  {
    // Probes whether a Redis answers before any runtime (and store) exists.
    files: ['src/cli/local-redis.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },

  {
    // Tests poke at arbitrary JSON bodies (typed `any` on purpose); expect() checks their shape at run time.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },

  {
    // The status page script runs in the browser, unbundled.
    files: ['src/server/public/**/*.js'],
    languageOptions: { globals: globals.browser, sourceType: 'script' },
  },
  {
    files: ['eslint.config.js'],
    languageOptions: { globals: globals.node },
  },
);
