import { serializeError } from '../errors.js';
import type { ReplyTarget } from './ActorCell.js';
import { Op } from './wire.js';

/**
 * Answers an ask that arrived over the wire, from either side: the reply (or
 * the error) goes back as a `Reply` / `ReplyError` frame under the asker's
 * reply id. A reply that cannot be cloned becomes an error reply, so the asker
 * learns why instead of waiting for its timeout.
 * @internal
 */
export class FrameReply implements ReplyTarget {
  settled = false;
  constructor(
    private readonly replyId: number,
    /** Checks and encodes a reply for the other thread; throws `UnserializableMessageError`. */
    private readonly encode: (value: unknown) => unknown,
    private readonly post: (op: number, replyId: number, payload: unknown) => void,
  ) {}

  resolve(value: unknown): boolean {
    if (this.settled) return false;
    this.settled = true;
    let encoded: unknown;
    try {
      encoded = this.encode(value);
    } catch (e) {
      this.post(Op.ReplyError, this.replyId, serializeError(e));
      return true;
    }
    this.post(Op.Reply, this.replyId, encoded);
    return true;
  }

  reject(error: unknown): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.post(Op.ReplyError, this.replyId, serializeError(error));
    return true;
  }
}
