import { defineConfig } from 'vitest/config';

/** Tests that measure request timing from the simulator's log: run last, alone, so no other test file competes for the two cores. */
const TIMING = ['test/account-cap.test.ts'];
/** Builds the image and runs docker-compose.yml (DIALER_CONTAINER_TESTS=1): last of all, alone. */
const CONTAINERS = ['test/containers.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Test files share one machine with two cores: run two at a time.
    maxWorkers: 2,
    minWorkers: 1,
    projects: [
      { extends: true, test: { name: 'main', include: ['test/**/*.test.ts'], exclude: [...TIMING, ...CONTAINERS], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'timing', include: TIMING, sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: 'containers', include: CONTAINERS, sequence: { groupOrder: 2 } } },
    ],
  },
});
