/**
 * Every error the PSI building blocks (X25519 masking, CSV reading and
 * writing, atomic output files) raise on purpose, in one place.
 *
 * They extend `TroupeError`, so each has a stable `name` and `code`, keeps its
 * `cause`, and survives a thread boundary through `serializeError`. Input
 * errors carry `file`, `line` and `column` both as fields and in the message,
 * in the `file:line:column` form editors and terminals link to.
 */
import { TroupeError } from '@troupe/core';

/**
 * X25519 of a point gave the all-zero output: the input is one of the
 * low-order points (u = 0, u = 1, ...). SHA-256 outputs practically never are,
 * so this means a misbehaving peer or a corrupted batch. The batch is not
 * usable: `out` is left partially written.
 */
export class LowOrderPointError extends TroupeError {
  constructor(
    /** Index of the offending 32-byte point in the batch. */
    readonly index: number,
    options?: { cause?: unknown },
  ) {
    super(
      'ERR_X25519_LOW_ORDER_POINT',
      `X25519 of point #${index} in the batch is all zero: the input is a low-order point (such as u = 0 or u = 1). ` +
        `Hashed items never map there in practice, so the batch was corrupted or the peer is misbehaving; ` +
        `the batch was not masked and must not be used.`,
      options,
    );
  }
}

/** The X25519 backend that was asked for cannot be loaded on this platform. */
export class X25519BackendUnavailableError extends TroupeError {
  constructor(
    readonly backend: string,
    options?: { cause?: unknown },
  ) {
    super(
      'ERR_X25519_BACKEND_UNAVAILABLE',
      `X25519 backend [${backend}] is not available here (its native binary did not load). ` +
        `Use backend 'node-crypto', which needs nothing but Node, or install a platform that sodium-native ships prebuilds for.`,
      options,
    );
  }
}

/**
 * Base class of every error about a malformed or unreadable CSV input.
 * Catch this one to turn any input problem into a clean exit code.
 */
export class CsvInputError extends TroupeError {
  constructor(
    code: string,
    /** The file as it was given to the reader. */
    readonly file: string,
    /** 1-based physical line, or 0 when the problem is not at a position (e.g. a missing file). */
    readonly line: number,
    /** 1-based column in characters (UTF-16 code units) on that line, or 0. */
    readonly column: number,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(code, `${line > 0 ? `${file}:${line}:${column}` : file}: ${detail}`, options);
  }
}

/** The input file does not exist. */
export class CsvFileNotFoundError extends CsvInputError {
  constructor(file: string, options?: { cause?: unknown }) {
    super('ERR_CSV_FILE_NOT_FOUND', file, 0, 0, 'no such file. Check the path and the working directory.', options);
  }
}

/** The input file could not be opened or read (permissions, a directory, an I/O error). */
export class CsvReadError extends CsvInputError {
  constructor(file: string, options?: { cause?: unknown }) {
    const reason = options?.cause instanceof Error ? options.cause.message : String(options?.cause);
    super('ERR_CSV_READ', file, 0, 0, `cannot read the file: ${reason}`, options);
  }
}

/** The file has no header row: it is empty, or holds only a BOM or blank lines. */
export class CsvEmptyFileError extends CsvInputError {
  constructor(file: string) {
    super('ERR_CSV_EMPTY_FILE', file, 1, 1, 'the file is empty: a CSV input needs a header row naming its columns.');
  }
}

/** A key column asked for is not in the header. */
export class CsvMissingColumnError extends CsvInputError {
  constructor(
    file: string,
    /** The column that was asked for. */
    readonly columnName: string,
    /** The columns the header does have. */
    readonly available: readonly string[],
  ) {
    super(
      'ERR_CSV_MISSING_COLUMN',
      file,
      1,
      1,
      `the header has no column named ${JSON.stringify(columnName)}; ` +
        `its columns are ${available.map((c) => JSON.stringify(c)).join(', ')}. ` +
        `Column names are matched exactly (case and spaces count).`,
    );
  }
}

/** A key column name appears more than once in the header, so it does not say which column to use. */
export class CsvAmbiguousColumnError extends CsvInputError {
  constructor(
    file: string,
    readonly columnName: string,
    /** 1-based positions of the columns with that name. */
    readonly positions: readonly number[],
  ) {
    super(
      'ERR_CSV_AMBIGUOUS_COLUMN',
      file,
      1,
      1,
      `the header names ${JSON.stringify(columnName)} ${positions.length} times (columns ${positions.join(', ')}); ` +
        `rename the duplicates so the key column is unambiguous.`,
    );
  }
}

/** A record has a different number of fields than the header. */
export class CsvRaggedRowError extends CsvInputError {
  constructor(
    file: string,
    line: number,
    column: number,
    /** Fields in the header. */
    readonly expected: number,
    /** Fields in this record. */
    readonly actual: number,
  ) {
    super(
      'ERR_CSV_RAGGED_ROW',
      file,
      line,
      column,
      `ragged row: expected ${expected} fields (as in the header), got ${actual}. ` +
        (actual > expected
          ? 'A field that contains the delimiter must be quoted.'
          : 'A field may be missing, or the delimiter may be wrong.'),
    );
  }
}

/** What is wrong with the quoting, for {@link CsvQuoteError}. */
export type CsvQuoteProblem = 'unterminated-quote' | 'quote-in-unquoted-field' | 'text-after-closing-quote';

const QUOTE_DETAIL: Record<CsvQuoteProblem, string> = {
  'unterminated-quote':
    'unterminated quoted field: the quote opened here is never closed. Close it, or double any quote inside it ("").',
  'quote-in-unquoted-field':
    'a quote inside an unquoted field. Quote the whole field and double the quote: "say ""hi""".',
  'text-after-closing-quote':
    'text after a closing quote: a quoted field must end at the quote. Double a quote meant as data ("").',
};

/** The record breaks RFC 4180 quoting. */
export class CsvQuoteError extends CsvInputError {
  constructor(
    file: string,
    line: number,
    column: number,
    readonly problem: CsvQuoteProblem,
  ) {
    super('ERR_CSV_BAD_QUOTING', file, line, column, QUOTE_DETAIL[problem]);
  }
}

/** The file is not valid UTF-8. */
export class CsvEncodingError extends CsvInputError {
  constructor(
    file: string,
    line: number,
    column: number,
    /** Byte offset of the first invalid byte in the file. */
    readonly byteOffset: number,
    options?: { cause?: unknown },
  ) {
    super(
      'ERR_CSV_INVALID_UTF8',
      file,
      line,
      column,
      `invalid UTF-8 (byte offset ${byteOffset}). The file must be UTF-8; re-save or convert it (e.g. iconv -f latin1 -t utf-8).`,
      options,
    );
  }
}

/** One record is longer than the reader's limit, which keeps memory bounded. */
export class CsvRecordTooLargeError extends CsvInputError {
  constructor(
    file: string,
    line: number,
    readonly limit: number,
  ) {
    super(
      'ERR_CSV_RECORD_TOO_LARGE',
      file,
      line,
      1,
      `the record starting here is longer than ${limit} characters. ` +
        `An unterminated quote is the usual cause; otherwise raise maxRecordLength.`,
    );
  }
}

/** An {@link AtomicFileWriter} was used after it was committed or aborted. */
export class AtomicFileClosedError extends TroupeError {
  constructor(
    readonly path: string,
    readonly state: string,
    readonly operation: string,
  ) {
    super(
      'ERR_ATOMIC_FILE_CLOSED',
      `Cannot ${operation} [${path}]: the atomic writer is already ${state}. Open a new writer for a new output.`,
    );
  }
}

/** A PSI run was stopped before it finished (an abort, or the system shutting down); it left no output. */
export class PsiInterruptedError extends TroupeError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('ERR_PSI_INTERRUPTED', `PSI run interrupted (${reason}); no output was written.`, options);
  }
}

/**
 * A PSI option is missing or invalid, or the run it describes is unsafe (an
 * output that would replace an input or an existing file, an output folder
 * that cannot be written). `option` names it as the `psi` command's flag.
 */
export class PsiOptionsError extends TroupeError {
  constructor(
    /** The option, as the `psi` flag that sets it (`--out`, `--threads`...). */
    readonly option: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_PSI_OPTIONS', `${option} ${detail}`, options);
  }
}

/** A row's key is empty (every key column empty) and the run was told to refuse such rows. */
export class CsvEmptyKeyError extends CsvInputError {
  constructor(
    file: string,
    line: number,
    column: number,
    /** The key columns. */
    readonly keyColumns: readonly string[],
  ) {
    super(
      'ERR_CSV_EMPTY_KEY',
      file,
      line,
      column,
      `the key (${keyColumns.join(', ')}) is empty on this row, and empty keys are refused (--empty-keys refuse). ` +
        'Fill it in, drop the row, or run with --empty-keys skip.',
    );
  }
}

/** A {@link PsiService} was asked about a job id it does not know. */
export class PsiJobNotFoundError extends TroupeError {
  constructor(
    readonly id: string,
    known: readonly string[],
  ) {
    super(
      'ERR_PSI_JOB_NOT_FOUND',
      `no PSI job ${JSON.stringify(id)} in this service${known.length > 0 ? ` (it knows ${known.length}: ${known.slice(-5).join(', ')}${known.length > 5 ? ', ...' : ''})` : ' (it has no jobs)'}; finished jobs are kept up to its historyLimit`,
    );
  }
}
