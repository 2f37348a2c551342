import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Test files share one machine with two cores: run two at a time.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
