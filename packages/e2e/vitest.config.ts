import { mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.js';

// Real processes on seconds-level schedules: minutes, not seconds, per test.
export default mergeConfig(shared, { test: { testTimeout: 240_000, hookTimeout: 120_000 } });
