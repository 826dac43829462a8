/**
 * `@troupe/actors`: stock actors built on `@troupe/core` (routers, pools,
 * pipelines, PSI).
 *
 * The PSI building blocks so far: X25519 masking on contiguous batches
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
  X25519BackendUnavailableError,
} from './psi/errors.js';
export {
  clampScalar,
  type GenerateKeyOptions,
  generateKey,
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
