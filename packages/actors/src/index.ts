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
  CsvInputError,
  CsvMissingColumnError,
  CsvQuoteError,
  type CsvQuoteProblem,
  CsvRaggedRowError,
  CsvReadError,
  CsvRecordTooLargeError,
  LowOrderPointError,
  PsiInterruptedError,
  PsiJobNotFoundError,
  PsiOptionsError,
  X25519BackendUnavailableError,
} from './psi/errors.js';
export { Masker, maskerSpec } from './psi/Masker.js';
export type { PsiProgress, PsiRelayInput, PsiSummary, SideSummary } from './psi/PsiJob.js';
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
export type { EmptyKeyPolicy, ExchangerMsg, MaskerInput, MaskerMsg, Side, SideProgress } from './psi/protocol.js';
export { runPsi } from './psi/runPsi.js';
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
