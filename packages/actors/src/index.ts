/**
 * `@troupe/actors`: stock actors built on `@troupe/core` (routers, pools,
 * pipelines, PSI). Filled in by the worker-thread and PSI issues.
 */
export {};
