/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The failover tests (real replicas, sentinels, a 6-node cluster; about a
  // minute) run in `npm run test:failover`, which .ci/run calls after npm test.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/failover/'],
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: 'tsconfig.json', isolatedModules: true, diagnostics: false }],
  },
  // jose 6 is ESM-only: let ts-jest turn it into CommonJS for the test runtime.
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  // The packages by name, from their sources (as tsconfig.json's `paths`);
  // their ESM sources name relative imports with `.js`, which resolves to the `.ts`.
  moduleNameMapper: {
    '^@verigate/node$': '<rootDir>/packages/node/src/index.ts',
    '^@verigate/node/fastify$': '<rootDir>/packages/node/src/fastify.ts',
    '^@verigate/browser$': '<rootDir>/packages/browser/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 20000,
};
