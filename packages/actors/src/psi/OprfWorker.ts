/**
 * The worker-thread actor of unbalanced PSI: hashes keys to points, and runs
 * the OPRF's group operations ({@link ./oprf.ts}). The server's workers hold
 * its OPRF key (their spawn input; zeroed when they stop, as the maskers do);
 * the client's hold none, and its blinding scalars travel only between the
 * client and its own workers.
 */
import { defineActor, workerActor } from '@troupe/core';
import { blind, evaluateFull, isOprfKey, multiply, unblindFinalize, zeroSecret } from './oprf.js';
import { hashPackedToPoints } from './x25519.js';

/** Input of an OPRF worker: the server's key, or nothing (a client's). */
export interface OprfWorkerInput {
  key?: Uint8Array;
}

export type OprfWorkerMsg =
  /** SHA-256 of each packed key (its u). Replies n*32 bytes. */
  | { type: 'hash'; keys: Uint8Array; offsets: Uint32Array }
  /** Client: blind H1(u) for each u. Replies `{ blinded, blinds }` (n*32 bytes each; the blinds stay with the client). */
  | { type: 'blind'; us: Uint8Array }
  /** Client: unblind the server's answers and finalize. Replies n*12 bytes. */
  | { type: 'unblind'; us: Uint8Array; evaluated: Uint8Array; blinds: Uint8Array; where: string }
  /** Server: k times each blinded point (refusing points outside the group). Replies n*32 bytes. */
  | { type: 'evaluate'; points: Uint8Array; where: string }
  /** Server, offline: the full OPRF of its own u's, H2(u, k * H1(u)). Replies n*12 bytes. */
  | { type: 'prf'; us: Uint8Array };

interface State {
  key: Uint8Array | undefined;
}

/** The built-in OPRF worker (loaded in a thread through {@link oprfWorkerSpec}). */
export const OprfWorker = defineActor<OprfWorkerMsg, State, OprfWorkerInput>({
  name: 'psi-oprf-worker',
  init: (ctx) => {
    const key = ctx.input?.key;
    if (key !== undefined && !isOprfKey(key))
      throw new TypeError('psi OPRF worker needs a canonical 32-byte scalar as key');
    // A copy per incarnation: a restart must not see a key zeroed by the last one.
    return { key: key === undefined ? undefined : new Uint8Array(key) };
  },
  receive: (s, msg, ctx) => {
    switch (msg.type) {
      case 'hash':
        ctx.reply(hashPackedToPoints(msg.keys, msg.offsets));
        return;
      case 'blind':
        ctx.reply(blind(msg.us));
        return;
      case 'unblind':
        ctx.reply(unblindFinalize(msg.us, msg.evaluated, msg.blinds, msg.where));
        return;
      case 'evaluate':
      case 'prf': {
        const key = s.key;
        if (key === undefined) throw new Error('psi OPRF worker has no key: only the server evaluates');
        ctx.reply(msg.type === 'prf' ? evaluateFull(key, msg.us) : multiply(key, msg.points, msg.where));
        return;
      }
    }
  },
  afterStop: (s, ctx) => {
    if (s.key !== undefined) zeroSecret(s.key);
    if (ctx.input?.key !== undefined) zeroSecret(ctx.input.key);
  },
  beforeRestart: (s) => {
    if (s.key !== undefined) zeroSecret(s.key);
  },
});

/** Where a worker finds the OPRF worker: this module (`.ts` from sources, `.js` when built). */
export const oprfWorkerSpec = workerActor<OprfWorkerMsg, OprfWorkerInput>(new URL(import.meta.url), 'OprfWorker');
