/**
 * `@troupe/actors`: stock actors built on `@troupe/core` (routers, pools,
 * pipelines, PSI).
 *
 * Routers and pools ({@link pool}) and pipelines ({@link pipeline}).
 *
 * The PSI building blocks: X25519 masking on contiguous batches
 * ({@link maskBatch}), a streaming RFC 4180 CSV reader ({@link CsvReader}), a
 * CSV writer and an atomic output file ({@link AtomicFileWriter}).
 */
export {
  type AtomicFileOptions,
  type AtomicFileState,
  AtomicFileWriter,
  writeFileAtomic,
} from './psi/AtomicFileWriter.js';
export { CsvReader, type CsvReadOptions, type CsvRecord } from './psi/csv.js';
export {
  type CsvSink,
  type CsvWriteOptions,
  CsvWriter,
  formatCsvField,
  formatCsvRecord,
} from './psi/csvWriter.js';
export {
  AtomicFileClosedError,
  CsvAmbiguousColumnError,
  CsvEmptyFileError,
  CsvEmptyKeyError,
  CsvEncodingError,
  CsvFileNotFoundError,
  CsvInputChangedError,
  CsvInputError,
  CsvMissingColumnError,
  CsvQuoteError,
  type CsvQuoteProblem,
  CsvRaggedRowError,
  CsvReadError,
  CsvRecordTooLargeError,
  LowOrderPointError,
  OprfCacheError,
  type OprfCacheProblem,
  OprfKeyFileError,
  PsiCheckpointError,
  PsiHandshakeError,
  PsiInterruptedError,
  PsiJobNotFoundError,
  PsiOptionsError,
  PsiPeerAbortedError,
  PsiPeerError,
  PsiPeerLostError,
  type PsiPeerProblem,
  PsiPeerProtocolError,
  PsiSideTakenError,
  X25519BackendUnavailableError,
} from './psi/errors.js';
export { Masker, maskerSpec } from './psi/Masker.js';
export { OprfWorker, type OprfWorkerInput, type OprfWorkerMsg, oprfWorkerSpec } from './psi/OprfWorker.js';
export { InvalidPointError } from './psi/oprf.js';
export {
  checkPeerMessage,
  type Hello,
  type PeerMsg,
  PSI_CURVE,
  PSI_PROTOCOL_VERSION,
  peerMessageBytes,
  type ResumeState,
  type Reveal,
} from './psi/PeerProtocol.js';
export type { PsiProgress, PsiRelayInput, PsiSummary } from './psi/PsiJob.js';
export {
  maxPsiThreads,
  type PsiOptions,
  type PsiWarning,
  type ResolvedPsiRun,
  resolvePsiOptions,
} from './psi/PsiOptions.js';
export {
  type PsiJobError,
  type PsiJobEvent,
  type PsiJobOptions,
  type PsiJobState,
  type PsiJobStatus,
  PsiService,
  type PsiServiceInput,
  type PsiServiceMsg,
} from './psi/PsiService.js';
export {
  PsiSession,
  type SessionConfig,
  type SessionInput,
  type SessionMsg,
  type SessionProgress,
  type SideSummary,
  type StageTimes,
  sessionTimings,
} from './psi/PsiSession.js';
export { checkPartyOutput, type PsiPartyOptions, resolvePartyOptions } from './psi/partyOptions.js';
export type {
  EmptyKeyPolicy,
  ExchangerMsg,
  MaskerInput,
  MaskerMsg,
  PartyConfig,
  PsiLimits,
  Side,
  SideProgress,
} from './psi/protocol.js';
export { processAlive, type RunLeftover, removeRunLeftover, runLeftover } from './psi/RunLeftovers.js';
export { runPsi } from './psi/runPsi.js';
export {
  runUnbalancedCache,
  runUnbalancedQuery,
  type UnbalancedCacheOptions,
  type UnbalancedCacheSummary,
  type UnbalancedQueryOptions,
  type UnbalancedQuerySummary,
} from './psi/runUnbalanced.js';
export type { UnbalancedRelayInput } from './psi/UnbalancedJob.js';
export type { ToClientMsg, ToServerMsg } from './psi/unbalancedProtocol.js';
export {
  clampScalar,
  type GenerateKeyOptions,
  generateKey,
  hashPackedToPoints,
  hashToPoint,
  joinKeyColumns,
  type MaskBatchOptions,
  mask,
  maskBatch,
  X25519_BYTES,
  type X25519BackendName,
  x25519BackendName,
  zeroKey,
} from './psi/x25519.js';
export {
  broadcast,
  ConsistentHash,
  type ConsistentHashOptions,
  consistentHash,
  leastLoaded,
  NoRouteesError,
  type Pipeline,
  PipelineClosedError,
  type PipelineItem,
  type PipelineOptions,
  type PipelineStats,
  type PoolBroadcast,
  type PoolGetRoutees,
  type PoolMessage,
  type PoolOptions,
  type PoolResize,
  type PoolRoutees,
  type PoolState,
  pipeline,
  pool,
  poolRoutees,
  type Routee,
  type RouteeFactory,
  type RouteeStopPolicy,
  type Router,
  type RoutingKind,
  type RoutingLogic,
  resizePool,
  roundRobin,
  type Stage,
  type StageFn,
  type StageRun,
  type StageSpec,
} from './routing/index.js';
