/**
 * What two PSI sessions say to each other: the only messages that cross
 * between the parties, in whatever carries them (a direct ref in one process,
 * a relay in the tests, NATS between machines). Plain data only: byte arrays,
 * numbers, booleans, short strings, and one actor ref (the sender's port, in
 * its hello), so any transport that carries refs can carry them.
 *
 * A run, seen from one side (the other does the same, mirrored):
 *
 * 1. `hello` both ways (each checks the other's against its own; any
 *    difference ends both, naming the field and both values);
 * 2. `batch` (own items masked with the own key, shuffled) and then `end`;
 *    the peer answers each batch with `returned` (the batch raised to its key,
 *    last {@link COMPARE_BYTES} of each, in the order sent) if this side learns
 *    the rows, or, in the cardinality mode, with the whole set shuffled
 *    (`shuffled` parts and `shuffled-end`) if this side learns the size; a side
 *    that must not learn the intersection is sent neither;
 * 3. `prepared` (output written to a temporary file, or nothing to write);
 *    once a side is prepared and has the peer's `prepared`, it commits and
 *    says `committed`;
 * 4. `ping` every heartbeat throughout, so a stalled peer is noticed;
 *    `abort` ends both, with the reason.
 */
import type { ActorRef } from '@troupe/core';
import { COMPARE_BYTES, type Side } from './protocol.js';
import { X25519_BYTES } from './x25519.js';

/** Version of this protocol; both parties must speak the same. */
export const PSI_PROTOCOL_VERSION = 1;
/** The group and hash-to-point both parties use: X25519 with u = SHA-256(key). */
export const PSI_CURVE = 'x25519-sha256';

/** Who learns the result: both parties, or only the named one. */
export type Reveal = 'both' | Side;

/** What a resuming party already holds, sent in its hello. */
export interface ResumeState {
  /** The peer's run id this checkpoint was made with (the peer must be resuming that run). */
  peerRun: string;
  /** Bitmap: the peer's batches whose double-masked values this side holds (they need not come again). */
  peerBatches: Uint8Array;
  /** Bitmap: own batches whose returned values this side holds (they need not be returned again). */
  ownReturned: Uint8Array;
  /** This side had committed its output already (it resumes to serve the peer what it lacks, and confirm). */
  committed: boolean;
}

/** The first message each side sends: what it is and how it will run. */
export interface Hello {
  type: 'hello';
  protocol: number;
  /** The session name both parties were started with. */
  session: string;
  side: Side;
  curve: string;
  /** Number of key columns (their names stay private: only the count must agree). */
  keyColumns: number;
  batchSize: number;
  reveal: Reveal;
  cardinalityOnly: boolean;
  /** This party's run id (random, hex); the same again when it resumes. */
  run: string;
  resume: ResumeState | null;
  /** Where the peer answers: the sender's port. */
  from: ActorRef<PeerMsg>;
}

export type PeerMsg =
  | Hello
  /** The handshake was refused (to a party claiming a side that is taken, or on a mismatch). */
  | { type: 'refuse'; code: string; reason: string }
  /** Own items of batch `index`, masked with the sender's key, shuffled (`n * 32` bytes). */
  | { type: 'batch'; index: number; points: Uint8Array }
  /** Every own batch has been sent: how many, with how many items in all (including batches sent before a resume). */
  | { type: 'end'; batches: number; items: number }
  /** The receiver's batch `index` raised to the sender's key, last COMPARE_BYTES of each, in the order received. */
  | { type: 'returned'; index: number; doubles: Uint8Array }
  /** Cardinality mode: part `part` of the receiver's items raised to the sender's key, shuffled across the whole set. */
  | { type: 'shuffled'; part: number; doubles: Uint8Array }
  | { type: 'shuffled-end'; parts: number; items: number }
  /** The sender's output is written to a temporary file (or it writes none): it is ready to commit. */
  | { type: 'prepared' }
  /** The sender has committed (renamed its output into place). */
  | { type: 'committed' }
  | { type: 'ping' }
  /** The sender gives up; `reason` says why (for the peer's error message). */
  | { type: 'abort'; code: string; reason: string };

/** Longest string field accepted from the peer. */
const MAX_TEXT = 2_000;
/** Largest batch index accepted (far above any real run: 2^31 batches). */
export const MAX_BATCH_INDEX = 0x7fff_ffff;

type FieldKind = 'int' | 'bytes' | 'text' | 'bool' | 'side' | 'reveal' | 'ref' | 'resume';
const SHAPES: Record<PeerMsg['type'], Record<string, FieldKind>> = {
  hello: {
    protocol: 'int',
    session: 'text',
    side: 'side',
    curve: 'text',
    keyColumns: 'int',
    batchSize: 'int',
    reveal: 'reveal',
    cardinalityOnly: 'bool',
    run: 'text',
    resume: 'resume',
    from: 'ref',
  },
  refuse: { code: 'text', reason: 'text' },
  batch: { index: 'int', points: 'bytes' },
  end: { batches: 'int', items: 'int' },
  returned: { index: 'int', doubles: 'bytes' },
  shuffled: { part: 'int', doubles: 'bytes' },
  'shuffled-end': { parts: 'int', items: 'int' },
  prepared: {},
  committed: {},
  ping: {},
  abort: { code: 'text', reason: 'text' },
};

const RESUME_SHAPE: Record<keyof ResumeState, FieldKind> = {
  peerRun: 'text',
  peerBatches: 'bytes',
  ownReturned: 'bytes',
  committed: 'bool',
};

function fieldProblem(kind: FieldKind, value: unknown): string | undefined {
  switch (kind) {
    case 'int':
      return Number.isSafeInteger(value) && (value as number) >= 0 ? undefined : 'is not a non-negative integer';
    case 'bytes':
      return value instanceof Uint8Array ? undefined : 'is not a byte array';
    case 'text':
      return typeof value === 'string' && value.length <= MAX_TEXT
        ? undefined
        : `is not a string of at most ${MAX_TEXT} characters`;
    case 'bool':
      return typeof value === 'boolean' ? undefined : 'is not a boolean';
    case 'side':
      return value === 'left' || value === 'right' ? undefined : 'is not "left" or "right"';
    case 'reveal':
      return value === 'both' || value === 'left' || value === 'right' ? undefined : 'is not "both", "left" or "right"';
    case 'ref': {
      const ref = value as { tell?: unknown; path?: unknown } | null;
      return ref !== null && typeof ref === 'object' && typeof ref.tell === 'function' && typeof ref.path === 'string'
        ? undefined
        : 'is not an actor ref';
    }
    case 'resume': {
      if (value === null) return undefined;
      if (typeof value !== 'object') return 'is not null or a resume state';
      for (const [name, k] of Object.entries(RESUME_SHAPE)) {
        const p = fieldProblem(k, (value as Record<string, unknown>)[name]);
        if (p !== undefined) return `.${name} ${p}`;
      }
      return undefined;
    }
  }
}

/**
 * Checks the shape of a message from the peer (its type, each field's type,
 * no stray fields, byte arrays of whole items, batches no larger than agreed).
 * Returns what is wrong, or undefined. Checks that need the run's state
 * (indices, counts, order) are the session's.
 */
export function checkPeerMessage(msg: unknown, limits: { batchSize: number }): string | undefined {
  if (msg === null || typeof msg !== 'object') return `a message that is not an object (${typeof msg})`;
  const type = (msg as { type?: unknown }).type;
  if (typeof type !== 'string' || !Object.hasOwn(SHAPES, type)) {
    return `a message of unknown type ${JSON.stringify(typeof type === 'string' ? type.slice(0, 40) : type)}`;
  }
  const fields = msg as Record<string, unknown>;
  if (type === 'hello' && fields.protocol !== PSI_PROTOCOL_VERSION) {
    // Another version may shape its hello otherwise: check only what the handshake needs to name the difference.
    for (const [name, kind] of [
      ['protocol', 'int'],
      ['session', 'text'],
      ['side', 'side'],
      ['from', 'ref'],
    ] as const) {
      const p = fieldProblem(kind, fields[name]);
      if (p !== undefined) return `'hello' whose ${name} ${p}`;
    }
    return undefined;
  }
  const shape = SHAPES[type as PeerMsg['type']];
  for (const name of Object.keys(fields)) {
    if (name !== 'type' && !Object.hasOwn(shape, name)) return `'${type}' with an unknown field '${name.slice(0, 40)}'`;
  }
  for (const [name, kind] of Object.entries(shape)) {
    const p = fieldProblem(kind, fields[name]);
    if (p !== undefined) return `'${type}' whose ${name} ${p}`;
  }
  const m = msg as PeerMsg;
  switch (m.type) {
    case 'batch': {
      if (m.index > MAX_BATCH_INDEX) return `batch ${m.index}: the index is out of range`;
      const n = m.points.byteLength / X25519_BYTES;
      if (!Number.isInteger(n) || n === 0) {
        return `batch ${m.index} of ${m.points.byteLength} bytes: not a whole, non-zero number of ${X25519_BYTES}-byte points`;
      }
      if (n > limits.batchSize)
        return `batch ${m.index} of ${n} points: more than the agreed batch size ${limits.batchSize}`;
      return undefined;
    }
    case 'returned':
    case 'shuffled': {
      const n = m.doubles.byteLength / COMPARE_BYTES;
      const what = m.type === 'returned' ? `returned batch ${m.index}` : `shuffled part ${m.part}`;
      if (!Number.isInteger(n) || n === 0) {
        return `${what} of ${m.doubles.byteLength} bytes: not a whole, non-zero number of ${COMPARE_BYTES}-byte values`;
      }
      if (n > limits.batchSize) return `${what} of ${n} values: more than the agreed batch size ${limits.batchSize}`;
      return undefined;
    }
    default:
      return undefined;
  }
}

/**
 * Bytes of a message's payload as it crosses: byte arrays exactly, 8 per
 * number, 1 per boolean, UTF-8 strings, a ref as its path, plus the type. It
 * leaves out the transport's own framing (which the transport adds).
 */
export function peerMessageBytes(msg: PeerMsg): number {
  let bytes = 0;
  const add = (v: unknown): void => {
    if (v instanceof Uint8Array) bytes += v.byteLength;
    else if (typeof v === 'number') bytes += 8;
    else if (typeof v === 'boolean') bytes += 1;
    else if (typeof v === 'string') bytes += Buffer.byteLength(v);
    else if (v !== null && typeof v === 'object') {
      const path = (v as { path?: unknown }).path;
      if (typeof path === 'string' && typeof (v as { tell?: unknown }).tell === 'function')
        bytes += Buffer.byteLength(path);
      else for (const x of Object.values(v)) add(x);
    }
  };
  add(msg);
  return bytes;
}
