/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] },
  // One Temporal dev server, one stripe-mock and one freshly migrated database per run (see the helpers).
  globalSetup: '<rootDir>/tests/helpers/globalSetup.ts',
  globalTeardown: '<rootDir>/tests/helpers/globalTeardown.ts',
  testTimeout: 60_000,
  // Two cores: two test files at a time, each with its own worker; more only thrashes.
  maxWorkers: 2,
  verbose: true,
};
