/**
 * The masker: a worker-thread actor that hashes keys to curve points and
 * raises points to its party's secret key. One per host thread per party;
 * loaded in the thread by module URL (see {@link maskerSpec}).
 */
import { defineActor, workerActor } from '@troupe/core';
import type { MaskerInput, MaskerMsg } from './protocol.js';
import { hashPackedToPoints, maskBatch, X25519_BYTES, zeroKey } from './x25519.js';

export type { MaskerInput };

interface MaskerState {
  key: Uint8Array;
}

/**
 * The built-in masker's definition (a worker thread loads it through {@link maskerSpec}).
 * Exported so that an instrumented masker (an audit, a test) can wrap it:
 * `defineActor({ ...Masker, init: (ctx) => { note(ctx.self.path); return Masker.init(ctx); } })`.
 */
export const Masker = defineActor<MaskerMsg, MaskerState, MaskerInput>({
  name: 'psi-masker',
  init: (ctx) => {
    const key = ctx.input?.key;
    if (!(key instanceof Uint8Array) || key.byteLength !== X25519_BYTES) {
      throw new TypeError(`psi masker needs a ${X25519_BYTES}-byte key as input`);
    }
    // A copy per incarnation: a restart must not see a key zeroed by the last one.
    return { key: new Uint8Array(key) };
  },
  receive: (state, msg, ctx) => {
    if (msg.type === 'crash') process.exit(70); // fault injection (tests): the whole host thread dies
    if (msg.type === 'hash-mask') {
      const points = hashPackedToPoints(msg.keys, msg.offsets);
      ctx.reply(maskBatch(state.key, points, points));
      return;
    }
    ctx.reply(maskBatch(state.key, msg.points));
  },
  afterStop: (state, ctx) => {
    zeroKey(state.key);
    zeroKey(ctx.input.key);
  },
  beforeRestart: (state) => zeroKey(state.key),
});

const here = import.meta.url;
/** Where a worker finds the masker: this module, as `.ts` from sources or `.js` when built. */
export const maskerSpec = workerActor<MaskerMsg, MaskerInput>(new URL(here), 'Masker');
