/**
 * The handshake rule: two hellos agree, or the first field they disagree on
 * is named with both values. Both sides apply it to the same pair of hellos,
 * so both end with the same error.
 */
import { PsiHandshakeError } from './errors.js';
import type { Hello } from './PeerProtocol.js';

/** Fields both parties must have equal, in the order they are checked, and a hint for each. */
const SAME: readonly [keyof Hello, string][] = [
  ['protocol', 'Run the same version of the psi command on both sides.'],
  ['curve', 'Run the same version of the psi command on both sides.'],
  ['session', 'Both must be started with the same --session.'],
  ['keyColumns', 'Both must name the same number of --key columns, in the same order of meaning.'],
  ['batchSize', 'Both must be started with the same --batch.'],
  ['reveal', 'Both must be started with the same --reveal.'],
  ['cardinalityOnly', 'Both must be started with --cardinality-only, or neither.'],
];

/**
 * The first disagreement between this party's hello and the peer's, as the
 * error both sides end with; undefined when they agree (sides differ, every
 * parameter is equal, and both start afresh or both resume the same run).
 */
export function checkHellos(mine: Hello, theirs: Hello): PsiHandshakeError | undefined {
  const session = mine.session;
  if (mine.side === theirs.side) return new PsiHandshakeError(session, 'side', mine.side, theirs.side);
  const [left, right] = mine.side === 'left' ? [mine, theirs] : [theirs, mine];
  for (const [field, hint] of SAME) {
    if (left[field] !== right[field]) return new PsiHandshakeError(session, field, left[field], right[field], hint);
  }
  if ((left.resume === null) !== (right.resume === null)) {
    const what = (h: Hello) => (h.resume === null ? 'a fresh run' : `a resume of run ${h.run}`);
    return new PsiHandshakeError(
      session,
      'resume',
      what(left),
      what(right),
      'Resume both parties (each from its own checkpoint) or neither; a party that has no checkpoint left cannot resume, so start both afresh.',
    );
  }
  if (left.resume !== null && right.resume !== null) {
    if (left.resume.peerRun !== right.run || right.resume.peerRun !== left.run) {
      return new PsiHandshakeError(
        session,
        'run',
        `run ${left.run} (paired with ${left.resume.peerRun})`,
        `run ${right.run} (paired with ${right.resume.peerRun})`,
        'The two checkpoints come from different runs; start both afresh.',
      );
    }
  }
  return undefined;
}
