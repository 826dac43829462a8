import { serializeError } from '../errors.js';
import type { Link } from './Link.js';
import type { ReplyTarget } from './SystemInternals.js';
import { Op } from './wire.js';

/**
 * Answers an ask that arrived over a link, on either side: the reply (or the
 * error) goes back as a `Reply` / `ReplyError` frame under the asker's reply
 * id. A reply that cannot be cloned becomes an error reply, so the asker
 * learns why instead of waiting for its timeout.
 * @internal
 */
export class FrameReply implements ReplyTarget {
  settled = false;
  constructor(
    private readonly link: Link,
    private readonly replyId: number,
    /** The actor that answers, named in the error when its reply cannot be cloned. */
    private readonly answerer: string,
  ) {}

  resolve(value: unknown): boolean {
    if (this.settled) return false;
    this.settled = true;
    let encoded: unknown;
    try {
      encoded = this.link.internals.provider.encode(value, this.answerer, 'reply');
    } catch (e) {
      this.link.answer(Op.ReplyError, this.replyId, serializeError(e));
      return true;
    }
    this.link.answer(Op.Reply, this.replyId, encoded);
    return true;
  }

  reject(error: unknown): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.link.answer(Op.ReplyError, this.replyId, serializeError(error));
    return true;
  }
}
