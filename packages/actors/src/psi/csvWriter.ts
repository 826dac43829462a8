/**
 * RFC 4180 CSV output: field quoting, and a buffered writer on top of an
 * {@link AtomicFileWriter} (or anything with an async `write`).
 */
import type { AtomicFileWriter } from './AtomicFileWriter.js';

/** Options of {@link formatCsvRecord} and {@link CsvWriter}. */
export interface CsvWriteOptions {
  /** Field delimiter, one character other than `"`, CR or LF. Default `,`. */
  readonly delimiter?: string;
  /** Line end written after each record. Default `\n`. */
  readonly eol?: '\n' | '\r\n';
}

function checkDelimiter(delimiter: string): void {
  if (typeof delimiter !== 'string' || delimiter.length !== 1 || '"\r\n'.includes(delimiter)) {
    throw new TypeError(
      `csv delimiter must be one character other than a quote, CR or LF, got ${JSON.stringify(delimiter)}`,
    );
  }
}

/**
 * One field as it must appear in the file: quoted (with quotes doubled) when
 * it holds the delimiter, a quote, CR or LF, or starts with a BOM; as is otherwise.
 */
export function formatCsvField(value: string, delimiter = ','): string {
  let needsQuotes = value.length > 0 && value.charCodeAt(0) === 0xfeff;
  if (!needsQuotes) {
    for (let i = 0; i < value.length; i++) {
      const c = value[i];
      if (c === delimiter || c === '"' || c === '\n' || c === '\r') {
        needsQuotes = true;
        break;
      }
    }
  }
  return needsQuotes ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * One record's text, without the line end. A record of a single empty field
 * is written as `""`, since an empty line would read back as no record at all.
 */
export function formatCsvRecord(fields: readonly string[], delimiter = ','): string {
  if (fields.length === 1 && fields[0] === '') return '""';
  let out = '';
  for (let i = 0; i < fields.length; i++) {
    if (i > 0) out += delimiter;
    out += formatCsvField(fields[i]!, delimiter);
  }
  return out;
}

/** Where a {@link CsvWriter} sends its text. An {@link AtomicFileWriter} is one. */
export interface CsvSink {
  write(data: string): Promise<void>;
}

const FLUSH_AT = 1 << 20;

/**
 * Writes CSV records to a sink, buffered (about 1 MiB per write).
 *
 * @example
 * ```ts
 * await writeFileAtomic('result/left.csv', async (file) => {
 *   const csv = new CsvWriter(file);
 *   await csv.writeRecord(['id', 'name']);
 *   await csv.writeRecord(['1', 'Smith, Jane']); // written as 1,"Smith, Jane"
 *   await csv.flush();
 * });
 * ```
 */
export class CsvWriter {
  /** The delimiter in use. */
  readonly delimiter: string;
  /** The line end in use. */
  readonly eol: '\n' | '\r\n';
  private buffered = '';

  constructor(
    private readonly sink: CsvSink | AtomicFileWriter,
    options: CsvWriteOptions = {},
  ) {
    this.delimiter = options.delimiter ?? ',';
    checkDelimiter(this.delimiter);
    this.eol = options.eol ?? '\n';
    if (this.eol !== '\n' && this.eol !== '\r\n') {
      throw new TypeError(`csv eol must be '\\n' or '\\r\\n', got ${JSON.stringify(this.eol)}`);
    }
  }

  /** Appends one record, quoting fields as needed. */
  async writeRecord(fields: readonly string[]): Promise<void> {
    this.buffered += formatCsvRecord(fields, this.delimiter) + this.eol;
    if (this.buffered.length >= FLUSH_AT) await this.flush();
  }

  /**
   * Appends a record's text as is (e.g. `CsvRecord.raw`, to copy an input row
   * unchanged), followed by the line end.
   */
  async writeRaw(recordText: string): Promise<void> {
    this.buffered += recordText + this.eol;
    if (this.buffered.length >= FLUSH_AT) await this.flush();
  }

  /** Writes out what is buffered. Call it before committing the file. */
  async flush(): Promise<void> {
    if (this.buffered.length === 0) return;
    const data = this.buffered;
    this.buffered = '';
    await this.sink.write(data);
  }
}
