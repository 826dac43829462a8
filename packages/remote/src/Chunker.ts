/**
 * Cutting a serialised batch into chunks that fit the server's `max_payload`.
 *
 * The batch is serialised (`packAfter` in Packer.ts) straight after a copy of the
 * pair's header template, so the common case, a batch that fits one NATS
 * message, costs no extra copy: the header is stamped in place. A larger batch is cut into
 * `ceil(size / (max_payload - header))` chunks, each with its own header
 * (same sequence number, index 0..count-1, the batch's total size), which the
 * peer's {@link Reassembler} puts back together.
 */
import { registerError } from '@troupe/core';
import { Kind, stamp } from './Envelope.js';

/** One NATS message ready to publish. */
export interface Chunk {
  /** Header and payload. */
  data: Uint8Array;
  /** Payload bytes (what flow control counts). */
  payloadBytes: number;
  /** Stream offset at the end of this chunk (bytes of payload sent to the peer, counting this one). */
  end: number;
  /** The batch's last chunk (counts the batch). */
  last: boolean;
  /** The batch's sequence number. */
  seq: number;
}

/** Most chunks one batch may have (the header's chunk count is 16 bits). */
export const MAX_CHUNKS = 0xffff;

/** A batch over the limit (checked at the sender, before anything is sent). */
export class BatchTooLargeError extends Error {
  override name = 'BatchTooLargeError';
  constructor(
    readonly target: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `Cannot send a batch of ${bytes} bytes (serialised) to ${target}: the limit is ${limit} bytes (maxBatchBytes). ` +
        'Send smaller messages, or raise maxBatchBytes on every node of the cluster.',
    );
  }
}

registerError(BatchTooLargeError);

/**
 * Cut a serialised batch (`buf`, which starts with `template.length` bytes of
 * header space) into chunks whose whole message is at most `maxMessage` bytes.
 * `offset` is the stream offset before this batch.
 */
export function chunk(buf: Buffer, template: Buffer, seq: number, offset: number, maxMessage: number): Chunk[] {
  const h = template.length;
  const total = buf.length - h;
  if (buf.length <= maxMessage) {
    const end = offset + total;
    stamp(buf, 0, Kind.Data, seq, 0, 1, end, total);
    return [{ data: buf, payloadBytes: total, end, last: true, seq }];
  }
  const per = maxMessage - h;
  if (per < 1) throw new RangeError(`max_payload ${maxMessage} leaves no room after a ${h}-byte header`);
  const count = Math.ceil(total / per);
  if (count > MAX_CHUNKS)
    throw new RangeError(`a batch of ${total} bytes needs ${count} chunks (at most ${MAX_CHUNKS})`);
  const chunks: Chunk[] = new Array(count);
  let end = offset;
  for (let i = 0; i < count; i++) {
    const from = h + i * per;
    const len = Math.min(per, buf.length - from);
    const data = Buffer.allocUnsafe(h + len);
    template.copy(data, 0);
    buf.copy(data, h, from, from + len);
    end += len;
    stamp(data, 0, Kind.Data, seq, i, count, end, total);
    chunks[i] = { data, payloadBytes: len, end, last: i === count - 1, seq };
  }
  return chunks;
}
