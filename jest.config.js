// Jest in ESM mode (run with node --experimental-vm-modules). Three projects, one runner:
//   unit        pure logic, no services (src/**/*.test.ts, hack/**/*.test.ts)
//   integration real PostgreSQL, Redis and S3 on loopback (test/integration)
//   e2e         a real Kubernetes API from KUBECONFIG (test/e2e)
const transform = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false }],
};
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform,
  testEnvironment: 'node',
  // The local cluster's state (etcd writes *.snap files) is not ours: keep it out of jest's file map.
  modulePathIgnorePatterns: ['<rootDir>/.cluster/'],
};
export default {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testTimeout: 20_000,
      testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/hack/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testTimeout: 120_000,
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
    },
    { ...common, displayName: 'e2e', testTimeout: 300_000, testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
  ],
};
