/**
 * Putting chunked batches back together, for one sender, with bounds.
 *
 * A sender publishes the chunks of one batch back to back and NATS keeps a
 * publisher's order, so at most one batch per sender is ever in assembly. Any
 * chunk that does not continue it (another sequence number, a skipped index, a
 * size that disagrees with the declared total) drops the partial batch: at-most-once
 * delivery allows losing it, and keeping it could never complete it. Limits:
 *
 * - a declared total over `maxBatchBytes` is refused at the first chunk (`oversize`);
 * - memory held is what actually arrived (parts are kept, not a buffer of the declared size);
 * - a partial batch older than `timeoutMs` is dropped by {@link Reassembler.expire}.
 */
import type { Header } from './Envelope.js';

/** Why chunks were dropped. */
export type ReassemblyFault = 'oversize' | 'malformed' | 'out-of-order' | 'incomplete' | 'reassembly-timeout';

export interface Dropped {
  reason: ReassemblyFault;
  detail: string;
  bytes: number;
  /** The batch given up on, when a partial batch was dropped (the whole batch is lost). */
  seq?: number;
}

/** The outcome of one chunk: a complete batch's bytes, and/or what was dropped. */
export interface Accepted {
  complete?: Uint8Array;
  dropped?: Dropped[];
}

interface Partial {
  seq: number;
  count: number;
  total: number;
  next: number;
  received: number;
  parts: Uint8Array[];
  startedAt: number;
}

export class Reassembler {
  private partial: Partial | undefined;

  constructor(
    private readonly maxBatchBytes: number,
    private readonly timeoutMs: number,
  ) {}

  /** Bytes held in the batch being assembled. */
  get pendingBytes(): number {
    return this.partial?.received ?? 0;
  }

  /** Take one DATA chunk. `payload` may be a view into a reused buffer: parts are copied. */
  accept(h: Header, payload: Uint8Array, now: number): Accepted {
    const len = payload.length;
    const dropped: Dropped[] = [];
    if (h.count < 1 || h.index >= h.count) {
      dropped.push(...this.dropPartial('incomplete', 'a malformed chunk interrupted it'));
      dropped.push({ reason: 'malformed', detail: `chunk index ${h.index} of count ${h.count}`, bytes: len });
      return { dropped };
    }
    if (h.total > this.maxBatchBytes) {
      dropped.push(...this.dropPartial('incomplete', 'an oversize batch interrupted it'));
      dropped.push({
        reason: 'oversize',
        detail: `batch ${h.seq} declares ${h.total} bytes, over maxBatchBytes ${this.maxBatchBytes}`,
        bytes: len,
      });
      return { dropped };
    }
    if (h.count === 1) {
      if (this.partial !== undefined)
        dropped.push(...this.dropPartial('incomplete', `batch ${h.seq} started before it was complete`));
      if (len !== h.total) {
        dropped.push({
          reason: 'malformed',
          detail: `one-chunk batch of ${len} bytes declares ${h.total}`,
          bytes: len,
        });
        return { dropped };
      }
      return dropped.length > 0 ? { complete: payload, dropped } : { complete: payload };
    }
    if (h.index === 0) {
      if (this.partial !== undefined)
        dropped.push(...this.dropPartial('incomplete', `batch ${h.seq} started before it was complete`));
      if (len > h.total) {
        dropped.push({ reason: 'malformed', detail: `chunk of ${len} bytes exceeds total ${h.total}`, bytes: len });
        return { dropped };
      }
      this.partial = {
        seq: h.seq,
        count: h.count,
        total: h.total,
        next: 1,
        received: len,
        parts: [Uint8Array.prototype.slice.call(payload)],
        startedAt: now,
      };
      return dropped.length > 0 ? { dropped } : {};
    }
    const p = this.partial;
    if (p === undefined || p.seq !== h.seq || p.count !== h.count || p.total !== h.total || p.next !== h.index) {
      const expected =
        p === undefined ? 'no batch in assembly' : `expected chunk ${p.next}/${p.count} of batch ${p.seq}`;
      dropped.push(...this.dropPartial('incomplete', `chunk ${h.index}/${h.count} of batch ${h.seq} arrived`));
      dropped.push({
        reason: 'out-of-order',
        detail: `chunk ${h.index}/${h.count} of batch ${h.seq}, ${expected}`,
        bytes: len,
      });
      return { dropped };
    }
    if (p.received + len > p.total) {
      dropped.push(...this.dropPartial('malformed', `chunks exceed the declared total ${p.total}`));
      dropped.push({ reason: 'malformed', detail: `chunk ${h.index} overflows batch ${h.seq}`, bytes: len });
      return { dropped };
    }
    p.parts.push(Uint8Array.prototype.slice.call(payload));
    p.received += len;
    p.next++;
    if (p.next < p.count) return {};
    this.partial = undefined;
    if (p.received !== p.total) {
      return {
        dropped: [
          {
            reason: 'malformed',
            detail: `batch ${p.seq}: ${p.received} bytes arrived, ${p.total} declared`,
            bytes: p.received,
          },
        ],
      };
    }
    return { complete: Buffer.concat(p.parts, p.total) };
  }

  /** Drop the partial batch if it has waited longer than the timeout. */
  expire(now: number): Dropped[] {
    const p = this.partial;
    if (p === undefined || now - p.startedAt <= this.timeoutMs) return [];
    return this.dropPartial(
      'reassembly-timeout',
      `batch ${p.seq} had ${p.next}/${p.count} chunks after ${Math.round(now - p.startedAt)} ms (limit ${this.timeoutMs} ms)`,
    );
  }

  /** Drop the partial batch (e.g. the stream skipped past it). */
  dropPartial(reason: ReassemblyFault, detail: string): Dropped[] {
    const p = this.partial;
    if (p === undefined) return [];
    this.partial = undefined;
    return [
      { reason, detail: `batch ${p.seq} (${p.next}/${p.count} chunks): ${detail}`, bytes: p.received, seq: p.seq },
    ];
  }
}
