/**
 * The binary envelope every Troupe NATS message starts with.
 *
 * ```
 * offset size field
 *  0     2    magic 0x54 0x52 ("TR")
 *  2     1    version (3: packed payloads with shapes, and the Recount frames of core's link)
 *  3     1    kind (see Kind)
 *  4     4    cluster tag: FNV-1a (32 bit) of the cluster name
 *  8     8    sender incarnation
 * 16     8    target incarnation (zero for broadcasts: heartbeat, hello, leave)
 * 24     4    seq    DATA: batch number per pair (u32, wraps); HEARTBEAT: flags (1 = hello)
 * 28     2    chunk index (DATA)
 * 30     2    chunk count (DATA, >= 1)
 * 32     8    offset DATA: stream offset at the end of this chunk's payload (bytes sent to this
 *                   peer so far, counting this chunk); CREDIT: bytes consumed; SYNC: bytes sent
 * 40     4    total  DATA: size of the whole serialised batch; HEARTBEAT: interval in ms
 * 44     1    n: length of the sender's node name (1..64)
 * 45     n    sender node name (ASCII)
 * 45+n   ...  payload: DATA a chunk of the serialised batch (Packer.ts); CLOSE / LEAVE / QUARANTINE / LOST: UTF-8 detail
 * ```
 *
 * All integers are big-endian; `offset` is a float64 (exact to 2^53 bytes).
 * The header is 45 + n bytes; a one-chunk batch costs that much over its
 * serialised size.
 */

/** `TR` */
export const MAGIC = 0x5452;
export const VERSION = 3;
/** Bytes before the node name. */
export const FIXED_HEADER = 45;
const MAX_NODE_NAME = 64;

/** What a frame is. */
export const Kind = {
  /** One chunk of a batch of frames. */
  Data: 1,
  /** Receiver → sender: bytes consumed so far (flow control). */
  Credit: 2,
  /** Sender → receiver: bytes sent so far; anything not received before it is lost. Asks for a credit. */
  Sync: 3,
  /** Either side: this pair is closed for good (payload: why). */
  Close: 4,
  /** Broadcast: I am alive (seq flag 1: I just joined, answer with your heartbeat). */
  Heartbeat: 5,
  /** Broadcast: I am leaving the cluster (graceful). */
  Leave: 6,
  /** To one node: you were declared dead by me; this pair stays closed. */
  Quarantine: 7,
  /**
   * Receiver → sender: batches of this pair were lost in transit (a gap in the
   * batch numbers, or a SYNC past what arrived), e.g. while one side was
   * reconnected and the other not yet. seq: the batch that revealed it.
   */
  Lost: 8,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** Heartbeat flag: the sender just joined; members answer with a heartbeat at once. */
export const HELLO = 1;

/** A decoded header. Incarnations are 16 lowercase hex digits. */
export interface Header {
  kind: Kind;
  clusterTag: number;
  sender: string;
  target: string;
  seq: number;
  index: number;
  count: number;
  offset: number;
  total: number;
  senderNode: string;
  /** Where the payload starts. */
  payloadStart: number;
}

/** Why a message could not be read as a Troupe frame. */
export type EnvelopeFault = 'truncated' | 'foreign-magic' | 'unsupported-version' | 'bad-kind' | 'bad-node-name';

/** The zero incarnation, used as target of broadcasts. */
export const NO_INCARNATION = '0000000000000000';

/** FNV-1a, 32 bits, of a string's UTF-8 bytes: the cluster tag. */
export function clusterTag(cluster: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(cluster, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Is `s` 16 lowercase hex digits? */
export function isIncarnation(s: unknown): s is string {
  return typeof s === 'string' && /^[0-9a-f]{16}$/.test(s);
}

/**
 * The fixed part of every header one sender writes to one target:
 * magic, version, cluster tag, both incarnations and the node name.
 * {@link stamp} fills in the per-frame fields of a copy.
 */
export function headerTemplate(cluster: string, sender: string, target: string, senderNode: string): Buffer {
  const name = Buffer.from(senderNode, 'ascii');
  if (name.length < 1 || name.length > MAX_NODE_NAME) throw new TypeError(`node name too long: ${senderNode}`);
  const buf = Buffer.alloc(FIXED_HEADER + name.length);
  buf.writeUInt16BE(MAGIC, 0);
  buf[2] = VERSION;
  buf.writeUInt32BE(clusterTag(cluster), 4);
  buf.write(sender, 8, 8, 'hex');
  buf.write(target, 16, 8, 'hex');
  buf[44] = name.length;
  name.copy(buf, FIXED_HEADER);
  return buf;
}

/** Write the per-frame fields into a header already copied into `buf` at `at`. */
export function stamp(
  buf: Uint8Array,
  at: number,
  kind: Kind,
  seq: number,
  index: number,
  count: number,
  offset: number,
  total: number,
): void {
  const v = new DataView(buf.buffer, buf.byteOffset + at, FIXED_HEADER);
  v.setUint8(3, kind);
  v.setUint32(24, seq >>> 0);
  v.setUint16(28, index);
  v.setUint16(30, count);
  v.setFloat64(32, offset);
  v.setUint32(40, total >>> 0);
}

/** A whole control frame (no chunking): template + fields + optional UTF-8 payload. */
export function controlFrame(
  template: Buffer,
  kind: Kind,
  fields: { seq?: number; offset?: number; total?: number } = {},
  detail?: string,
): Uint8Array {
  const text = detail === undefined ? undefined : Buffer.from(detail.slice(0, 1024), 'utf8');
  const buf = Buffer.allocUnsafe(template.length + (text?.length ?? 0));
  template.copy(buf, 0);
  stamp(buf, 0, kind, fields.seq ?? 0, 0, 1, fields.offset ?? 0, fields.total ?? 0);
  if (text !== undefined) text.copy(buf, template.length);
  return buf;
}

/** Read a header, or say what is wrong with the message. Never throws. */
export function decodeHeader(data: Uint8Array): Header | EnvelopeFault {
  if (data.length < 2) return 'truncated';
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (v.getUint16(0) !== MAGIC) return 'foreign-magic';
  if (data.length < FIXED_HEADER) return 'truncated';
  if (v.getUint8(2) !== VERSION) return 'unsupported-version';
  const kind = v.getUint8(3);
  if (kind < Kind.Data || kind > Kind.Lost) return 'bad-kind';
  const n = v.getUint8(44);
  if (n < 1 || n > MAX_NODE_NAME) return 'bad-node-name';
  if (data.length < FIXED_HEADER + n) return 'truncated';
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const senderNode = b.toString('latin1', FIXED_HEADER, FIXED_HEADER + n);
  if (!/^[A-Za-z0-9_-]+$/.test(senderNode)) return 'bad-node-name';
  return {
    kind: kind as Kind,
    clusterTag: v.getUint32(4),
    sender: b.toString('hex', 8, 16),
    target: b.toString('hex', 16, 24),
    seq: v.getUint32(24),
    index: v.getUint16(28),
    count: v.getUint16(30),
    offset: v.getFloat64(32),
    total: v.getUint32(40),
    senderNode,
    payloadStart: FIXED_HEADER + n,
  };
}

/** The UTF-8 payload of a control frame (CLOSE, LEAVE, QUARANTINE, LOST). */
export function detailOf(data: Uint8Array, header: Header): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString(
    'utf8',
    header.payloadStart,
    Math.min(data.length, header.payloadStart + 1024),
  );
}
