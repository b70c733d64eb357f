/** One real Temporal dev server for the whole run, workflows bundled once (see test/setup/). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  // test/zz-*.test.ts (the history scan) run after everything else.
  testSequencer: '<rootDir>/test/setup/sequencer.js',
  testTimeout: 120_000,
  // A suite that fails mid-way can leave a native Temporal worker or a child process holding the event
  // loop; CI must end with the verdict, not hang until its time limit.
  forceExit: true,
};
