import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Every event a test publishes is checked against its schema (src/contracts/strictEvents.ts).
    env: { LOCK_STRICT_EVENTS: '1' },
  },
});
