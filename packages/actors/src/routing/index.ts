/**
 * Routers, pools and pipelines: N actors behind one ref, and stages chained
 * with backpressure end to end.
 *
 * @example
 * const workers = system.spawn(pool({ size: 4, routee: Worker, routing: 'least-loaded' }), { name: 'workers' });
 * const answer = await workers.ask({ type: 'work', n: 1 }); // answered by the routee
 * await resizePool(workers, 8);
 */
export { NoRouteesError, PipelineClosedError } from './errors.js';
export { type PoolOptions, type PoolState, pool, type RouteeFactory, type RouteeStopPolicy } from './Pool.js';
export {
  type PoolBroadcast,
  type PoolGetRoutees,
  type PoolMessage,
  type PoolResize,
  type PoolRoutees,
  poolRoutees,
  resizePool,
} from './PoolProtocol.js';
export {
  type Pipeline,
  type PipelineItem,
  type PipelineOptions,
  type PipelineStats,
  pipeline,
  type Stage,
  type StageFn,
  type StageRun,
  type StageSpec,
} from './pipeline.js';
export {
  broadcast,
  ConsistentHash,
  type ConsistentHashOptions,
  consistentHash,
  leastLoaded,
  type Routee,
  type Router,
  type RoutingKind,
  type RoutingLogic,
  roundRobin,
} from './RoutingLogic.js';
