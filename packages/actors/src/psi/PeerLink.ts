/**
 * The peer link: the only actor of a session that the peer can reach (its
 * ref is what the session hands out as its port). It checks the shape of
 * each message ({@link checkPeerMessage}), counts its bytes, and passes it to
 * its session wrapped as `from-peer`, or reports it as a `link-fault`. So a
 * peer can send nothing but {@link PeerMsg}s, and cannot pose as the
 * session's own party or owner: those talk to the session itself, whose ref
 * never leaves the process.
 */
import { type ActorRef, defineActor } from '@troupe/core';
import { checkPeerMessage, type PeerMsg, peerMessageBytes } from './PeerProtocol.js';

/** What the link tells its session. */
export type LinkMsg = { type: 'from-peer'; msg: PeerMsg; bytes: number } | { type: 'link-fault'; detail: string };

export interface PeerLinkInput {
  session: ActorRef<LinkMsg>;
  batchSize: number;
}

export const PeerLink = defineActor<PeerMsg, undefined, PeerLinkInput>({
  name: 'psi-peer-link',
  init: () => undefined,
  receive: (_s, msg, ctx) => {
    const { session, batchSize } = ctx.input;
    const problem = checkPeerMessage(msg, { batchSize });
    if (problem !== undefined) ctx.tell(session, { type: 'link-fault', detail: problem });
    else ctx.tell(session, { type: 'from-peer', msg, bytes: peerMessageBytes(msg) });
  },
});
