// Test runner settings: integration tests spawn the built CLI, so they get generous timeouts and separate processes.
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, 'test/browser/**'], // npm run test:browser (vitest.browser.config.ts)
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
