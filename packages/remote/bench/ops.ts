/**
 * The frames the benchmark sends through NatsTransport, shaped like core's wire
 * frames (an opcode, then fixed fields): three fields per frame here.
 */
export const Op = {
  /** handle, message */
  Tell: 1,
  /** replyId, message */
  Ask: 3,
  /** replyId, value */
  Reply: 4,
} as const;

/** A tell-sized message, as an actor would send it. */
export type BenchMsg = { type: 'inc'; n: number };
export const message = (n: number): BenchMsg => ({ type: 'inc', n });
