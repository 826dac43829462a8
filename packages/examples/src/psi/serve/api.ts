/**
 * The HTTP JSON API of `psi serve`:
 *
 *   GET  /health                 { ok, draining, queued, running }
 *   GET  /jobs                   { jobs: [record...] }
 *   POST /jobs                   { left, right, key, out, threads?, batch?, delimiter?, overwrite?, emptyKeys? } → 201 { job }
 *   POST /jobs                   { party: { side, file, key, out, session, reveal?, cardinalityOnly?, threads?, batch?,
 *                                  delimiter?, peerTimeout? } } → 201 { job }: one party of a two-party session,
 *                                  over the service's own NATS connection (`--nats`)
 *   GET  /jobs/:id               { job } (with live progress)
 *   POST /jobs/:id/cancel        → 202 { job }
 *   GET  /jobs/:id/result        { result } once done, else 409
 *
 * POSTs need `Authorization: Bearer <token>`. Every refusal is a 4xx JSON
 * `{ error, field? }` naming what was wrong.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAbsolute, resolve } from 'node:path';
import { CsvInputError, CsvReader, type EmptyKeyPolicy, PsiOptionsError } from '@troupe/actors';
import type { ActorRef } from '@troupe/core';
import { type AnyJobRequest, finalStates, type JobRecord, type PartyJobRequest } from './JobRecord.js';
import { JobServiceError, type JobServiceMsg } from './JobService.js';
import { partySessionConfig } from './partyJob.js';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export interface JobApiOptions {
  service: ActorRef<JobServiceMsg>;
  token: string;
  /** Relative paths in requests are resolved against this folder. */
  base: string;
  /** Worker threads of the service: a job's `threads` may not exceed it. */
  maxThreads: number;
  /** `host:port` values accepted in the Host header. */
  hosts: ReadonlySet<string>;
  /** Party jobs run (the service joined a NATS cluster with `--nats`). */
  partyJobs: boolean;
}

const FIELDS = new Set(['left', 'right', 'key', 'out', 'threads', 'batch', 'delimiter', 'overwrite', 'emptyKeys']);
const PARTY_FIELDS = new Set([
  'side',
  'file',
  'key',
  'out',
  'session',
  'reveal',
  'cardinalityOnly',
  'threads',
  'batch',
  'delimiter',
  'peerTimeout',
]);
const REVEALS = ['both', 'left', 'right'] as const;
const EMPTY_KEYS = ['match', 'skip', 'refuse'] as const;
const ASK = { timeoutMs: 10_000 };

/** The request handler of the job API. */
/** A job's `delimiter` (default `,`): one character other than a quote, CR or LF, or a 400 naming `field`. */
function oneDelimiter(raw: unknown, field: string): string {
  const delimiter = raw === undefined ? ',' : raw;
  if (typeof delimiter !== 'string' || delimiter.length !== 1 || '"\r\n'.includes(delimiter)) {
    throw new ApiError(
      400,
      `${field} must be one character other than a quote, CR or LF, got ${describe(delimiter)}`,
      field,
    );
  }
  return delimiter;
}

/** A job's `key` as column names: `"id,date"` or `["id", "date"]`; anything else reads as no (or an empty) column. */
function keyColumns(raw: unknown): string[] {
  if (typeof raw === 'string') return raw.split(',').map((k) => k.trim());
  if (Array.isArray(raw)) return raw.map((k) => (typeof k === 'string' ? k.trim() : ''));
  return [];
}

export function jobApi(options: JobApiOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(options, req, res).catch((error: unknown) => {
      const e =
        error instanceof ApiError
          ? error
          : error instanceof JobServiceError
            ? new ApiError(error.status, error.message, error.field)
            : new ApiError(500, `internal error: ${(error as Error)?.message ?? String(error)}`);
      if (res.headersSent) res.destroy();
      else send(res, e.status, { error: e.message, ...(e.field === undefined ? {} : { field: e.field }) });
    });
  };
}

async function handle(o: JobApiOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!o.hosts.has(req.headers.host ?? ''))
    throw new ApiError(403, `host ${req.headers.host ?? '(none)'} is not served here`);
  const path = new URL(req.url ?? '/', 'http://psi').pathname.replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';
  if (path === '/health') {
    only(method, 'GET', path);
    const jobs = await o.service.ask<JobRecord[]>({ type: 'list' }, ASK);
    send(res, 200, {
      ok: true,
      queued: jobs.filter((j) => j.state === 'queued').length,
      running: jobs.filter((j) => j.state === 'running').length,
    });
    return;
  }
  if (path === '/jobs') {
    if (method === 'GET') {
      send(res, 200, { jobs: await o.service.ask<JobRecord[]>({ type: 'list' }, ASK) });
      return;
    }
    only(method, 'POST', path);
    authorize(o, req);
    const body = await readJson(req);
    const { request, inputBytes } = 'party' in body ? await validateParty(o, body) : await validate(o, body);
    const job = await o.service.ask<JobRecord>({ type: 'submit', request, inputBytes }, ASK);
    send(res, 201, { job });
    return;
  }
  const m = /^\/jobs\/([^/]+)(?:\/(cancel|result))?$/.exec(path);
  if (m !== null) {
    const id = decodeURIComponent(m[1] as string);
    const what = m[2];
    if (what === 'cancel') {
      only(method, 'POST', path);
      authorize(o, req);
      send(res, 202, { job: await o.service.ask<JobRecord>({ type: 'cancel', id }, ASK) });
      return;
    }
    only(method, 'GET', path);
    const job = await o.service.ask<JobRecord | null>({ type: 'get', id }, ASK);
    if (job === null) throw new ApiError(404, `no job ${id}`, 'id');
    if (what === 'result') {
      if (job.state !== 'done') {
        const why = finalStates.has(job.state) ? `: ${job.error?.message ?? ''}` : ' (it has not finished)';
        throw new ApiError(409, `job ${id} is ${job.state}, so it has no result${why}`);
      }
      send(res, 200, { result: job.result });
      return;
    }
    send(res, 200, { job });
    return;
  }
  throw new ApiError(404, `nothing at ${path}; see GET /jobs`);
}

function only(method: string, expected: string, path: string): void {
  if (method !== expected) throw new ApiError(405, `${path} accepts ${expected}, got ${method}`);
}

function authorize(o: JobApiOptions, req: IncomingMessage): void {
  const h = req.headers.authorization;
  const given = typeof h === 'string' ? /^Bearer\s+(.+)$/i.exec(h.trim())?.[1] : undefined;
  if (given === undefined) throw new ApiError(401, 'this request needs the token (Authorization: Bearer <token>)');
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(o.token).digest();
  if (!timingSafeEqual(a, b)) throw new ApiError(403, 'wrong token');
}

async function readJson(req: IncomingMessage, limit = 64 * 1024): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new ApiError(415, `the body must be JSON (content-type: application/json), got ${type || 'none'}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ApiError(413, `the body is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new ApiError(400, `the body is not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ApiError(400, 'the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** Check a submitted job field by field, the files on disk included. */
async function validate(
  o: JobApiOptions,
  body: Record<string, unknown>,
): Promise<{ request: AnyJobRequest; inputBytes: { left: number; right: number } }> {
  for (const k of Object.keys(body)) {
    if (!FIELDS.has(k)) throw new ApiError(400, `unknown field ${k}; fields: ${[...FIELDS].join(', ')}`, k);
  }
  const str = (field: string): string => {
    const v = body[field];
    if (typeof v !== 'string' || v.trim().length === 0) {
      throw new ApiError(400, `${field} is required: a non-empty string, got ${describe(v)}`, field);
    }
    return v;
  };
  const int = (field: string, dflt: number, min: number, max: number): number => {
    const v = body[field];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new ApiError(400, `${field} must be an integer from ${min} to ${max}, got ${describe(v)}`, field);
    }
    return v;
  };
  const place = (p: string) => (isAbsolute(p) ? p : resolve(o.base, p));
  const left = place(str('left'));
  const right = place(str('right'));
  const out = place(str('out'));
  const rawKey = body.key;
  const key = keyColumns(rawKey);
  if (key.length === 0 || key.some((k) => k.length === 0)) {
    throw new ApiError(
      400,
      `key must name one or more columns ("id" or ["id", "date"]), got ${describe(rawKey)}`,
      'key',
    );
  }
  if (new Set(key).size !== key.length) throw new ApiError(400, `key names a column twice: ${key.join(',')}`, 'key');
  const threads = int('threads', o.maxThreads, 1, o.maxThreads);
  const batch = int('batch', 4096, 1, 1 << 20);
  const delimiter = oneDelimiter(body.delimiter, 'delimiter');
  const overwrite = body.overwrite ?? false;
  if (typeof overwrite !== 'boolean') {
    throw new ApiError(400, `overwrite must be true or false, got ${describe(overwrite)}`, 'overwrite');
  }
  const emptyKeys = body.emptyKeys ?? 'match';
  if (!EMPTY_KEYS.includes(emptyKeys as EmptyKeyPolicy)) {
    throw new ApiError(
      400,
      `emptyKeys must be one of ${EMPTY_KEYS.join(', ')}, got ${describe(emptyKeys)}`,
      'emptyKeys',
    );
  }
  const inputBytes = { left: 0, right: 0 };
  const inputIds: string[] = [];
  for (const [field, file] of [
    ['left', left],
    ['right', right],
  ] as const) {
    const st = await stat(file).catch(() => undefined);
    if (st === undefined) throw new ApiError(400, `${field}: no such file on the server: ${file}`, field);
    if (!st.isFile()) throw new ApiError(400, `${field}: not a regular file: ${file}`, field);
    inputBytes[field] = st.size;
    inputIds.push(`${st.dev}:${st.ino}`);
    // The key columns are checked now, so a typo is a 400 rather than a failed job later.
    let csv: CsvReader | undefined;
    try {
      csv = await CsvReader.open(file, { delimiter });
      csv.columnIndices(key);
    } catch (error) {
      if (error instanceof CsvInputError) {
        const what = /column/i.test(error.message) ? 'key' : field;
        throw new ApiError(400, `${field}: ${error.message}`, what);
      }
      throw error;
    } finally {
      await csv?.close();
    }
  }
  const outStat = await stat(out).catch(() => undefined);
  if (outStat !== undefined && !outStat.isDirectory())
    throw new ApiError(400, `out: ${out} exists and is not a folder`, 'out');
  // The PSI service checks all this again when the job starts; a queued job's client hears it now.
  for (const side of ['left', 'right']) {
    const target = resolve(out, `${side}.csv`);
    const st = await stat(target).catch(() => undefined);
    if (target === left || target === right || (st !== undefined && inputIds.includes(`${st.dev}:${st.ino}`))) {
      throw new ApiError(400, `out: writing ${target} would replace an input file; choose another folder`, 'out');
    }
    if (st !== undefined && !overwrite) {
      throw new ApiError(400, `out: ${target} already exists; send overwrite: true to replace it`, 'out');
    }
  }
  return {
    request: { left, right, key, out, threads, batch, delimiter, overwrite, emptyKeys: emptyKeys as EmptyKeyPolicy },
    inputBytes,
  };
}

/** Check a party job (`{ party: {...} }`) field by field, its file on disk included; fields are named `party.<field>`. */
async function validateParty(
  o: JobApiOptions,
  body: Record<string, unknown>,
): Promise<{ request: PartyJobRequest; inputBytes: { left: number; right: number } }> {
  for (const k of Object.keys(body)) {
    if (k !== 'party') throw new ApiError(400, `unknown field ${k} beside party; a party job is { party: {...} }`, k);
  }
  const p = body.party;
  if (p === null || typeof p !== 'object' || Array.isArray(p)) {
    throw new ApiError(400, `party must be an object, got ${describe(p)}`, 'party');
  }
  if (!o.partyJobs) {
    throw new ApiError(
      400,
      'party: this service runs no party jobs: start it with --nats <url> (the NATS server the parties meet on)',
      'party',
    );
  }
  const party = p as Record<string, unknown>;
  for (const k of Object.keys(party)) {
    if (!PARTY_FIELDS.has(k)) {
      throw new ApiError(400, `unknown field party.${k}; fields: ${[...PARTY_FIELDS].join(', ')}`, `party.${k}`);
    }
  }
  const str = (field: string): string => {
    const v = party[field];
    if (typeof v !== 'string' || v.trim().length === 0) {
      throw new ApiError(400, `party.${field} is required: a non-empty string, got ${describe(v)}`, `party.${field}`);
    }
    return v;
  };
  const int = (field: string, dflt: number, min: number, max: number): number => {
    const v = party[field];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new ApiError(
        400,
        `party.${field} must be an integer from ${min} to ${max}, got ${describe(v)}`,
        `party.${field}`,
      );
    }
    return v;
  };
  const side = party.side;
  if (side !== 'left' && side !== 'right') {
    throw new ApiError(400, `party.side must be left or right, got ${describe(side)}`, 'party.side');
  }
  const place = (x: string) => (isAbsolute(x) ? x : resolve(o.base, x));
  const file = place(str('file'));
  const out = place(str('out'));
  const session = str('session');
  const rawKey = party.key;
  const key = keyColumns(rawKey);
  if (key.length === 0 || key.some((k) => k.length === 0)) {
    throw new ApiError(
      400,
      `party.key must name one or more columns ("id" or ["id", "date"]), got ${describe(rawKey)}`,
      'party.key',
    );
  }
  const reveal = party.reveal ?? 'both';
  if (!REVEALS.includes(reveal as 'both')) {
    throw new ApiError(400, `party.reveal must be both, left or right, got ${describe(reveal)}`, 'party.reveal');
  }
  const cardinalityOnly = party.cardinalityOnly ?? false;
  if (typeof cardinalityOnly !== 'boolean') {
    throw new ApiError(
      400,
      `party.cardinalityOnly must be true or false, got ${describe(cardinalityOnly)}`,
      'party.cardinalityOnly',
    );
  }
  const threads = int('threads', o.maxThreads, 1, o.maxThreads);
  const batch = int('batch', 4096, 1, 1 << 20);
  const peerTimeout = int('peerTimeout', 30, 1, 86_400);
  const delimiter = oneDelimiter(party.delimiter, 'party.delimiter');
  const request: PartyJobRequest = {
    kind: 'party',
    side,
    file,
    key,
    out,
    session,
    reveal: reveal as PartyJobRequest['reveal'],
    cardinalityOnly,
    threads,
    batch,
    delimiter,
    peerTimeout,
  };
  // The rest (the session name, key and mode combinations) is what `psi party` checks, the same way.
  try {
    partySessionConfig(request);
  } catch (error) {
    if (error instanceof PsiOptionsError) {
      const field = `party.${PARTY_OPTION_FIELDS[error.option] ?? error.option.replace(/^--/, '')}`;
      throw new ApiError(400, `${field}: ${error.message}`, field);
    }
    throw error;
  }
  const st = await stat(file).catch(() => undefined);
  if (st === undefined) throw new ApiError(400, `party.file: no such file on the server: ${file}`, 'party.file');
  if (!st.isFile()) throw new ApiError(400, `party.file: not a regular file: ${file}`, 'party.file');
  let csv: CsvReader | undefined;
  try {
    csv = await CsvReader.open(file, { delimiter });
    csv.columnIndices(key);
  } catch (error) {
    if (error instanceof CsvInputError) {
      const what = /column/i.test(error.message) ? 'party.key' : 'party.file';
      throw new ApiError(400, `party.file: ${error.message}`, what);
    }
    throw error;
  } finally {
    await csv?.close();
  }
  const outStat = await stat(out).catch(() => undefined);
  if (outStat !== undefined && !outStat.isDirectory()) {
    throw new ApiError(400, `party.out: ${out} exists and is not a folder`, 'party.out');
  }
  const target = resolve(out, `${side}.csv`);
  const tst = await stat(target).catch(() => undefined);
  if (target === file || (tst !== undefined && tst.dev === st.dev && tst.ino === st.ino)) {
    throw new ApiError(
      400,
      `party.out: writing ${target} would replace the input file; choose another folder`,
      'party.out',
    );
  }
  if (tst !== undefined) {
    throw new ApiError(400, `party.out: ${target} already exists; choose another folder`, 'party.out');
  }
  return {
    request,
    inputBytes: { left: side === 'left' ? st.size : 0, right: side === 'right' ? st.size : 0 },
  };
}

/** The `psi party` flag a `PsiOptionsError` names, as the field of a party job. */
const PARTY_OPTION_FIELDS: Record<string, string> = {
  '--batch': 'batch',
  '--cardinality-only': 'cardinalityOnly',
  '--peer-timeout': 'peerTimeout',
};

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return String(v);
  return Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}
