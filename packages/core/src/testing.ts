/**
 * `@troupe/core/testing`: deterministic time and message probes for tests.
 */
export { settle, TestClock } from './TestClock.js';
export { TestProbe } from './TestProbe.js';
