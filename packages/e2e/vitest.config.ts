import { mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.js';

// Real processes on seconds-level schedules: minutes, not seconds, per test (the slow-SMTP fault
// scenario alone waits 40 s per email).
export default mergeConfig(shared, { test: { testTimeout: 300_000, hookTimeout: 120_000 } });
