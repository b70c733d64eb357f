import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      '.data/',
      '.tools/',
      'coverage/',
      '.scratch/',
      'jest.config.js',
      'test/setup/sequencer.js',
      'eslint.config.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // Plain CommonJS that runs before `npm ci` has built anything (the Temporal CLI installer).
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
      },
    },
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Workflow code is replayed: it must stay deterministic, so Node built-ins, I/O and clocks are out.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'Workflow code cannot use Node built-ins.' },
            {
              group: ['../activities/*', '../activities', '!../activities/**/*.types'],
              importNamePattern: '.*',
              message: 'Use `import type` for activities.',
              allowTypeImports: true,
            },
            {
              group: ['../worker/*', '../client/*', '../emulator/*'],
              message: 'Workflow code must not import worker, client or emulator code.',
            },
            {
              group: [
                '../common/codec/*',
                '../common/connection',
                '../common/logger',
                '../common/tracing',
                '../common/signature',
                '../common/request-hash',
                '../common/package-version',
              ],
              message:
                'Workflow code must not import Node-only common code (codec, connection settings, logger, tracing, signing, hashing).',
            },
          ],
          paths: [
            'fs',
            'path',
            'os',
            'crypto',
            'http',
            'https',
            'net',
            'child_process',
            'process',
            'timers',
            'undici',
            'dns',
            'worker_threads',
            'cluster',
            'stream',
            'zlib',
            'events',
            'util',
            {
              name: '@temporalio/client',
              message: 'Workflows talk to Temporal through @temporalio/workflow.',
            },
            { name: '@temporalio/worker', message: 'Workflows cannot import the worker.' },
            { name: '@temporalio/activity', message: 'Workflows cannot import activity context.' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'Workflow code cannot read the environment.' },
        { name: 'setImmediate', message: 'Use workflow timers.' },
        { name: 'require', message: 'Use imports.' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Math',
          property: 'random',
          message: 'Non-deterministic: derive values from the workflow id.',
        },
      ],
    },
  },
);
