/**
 * A party job of `psi serve`: one side of a two-party session, run the way
 * `psi party` runs it (`runParty` with the NATS connector of natsParty.ts),
 * over the service's own cluster connection. The job's request names the
 * session, side, file and modes; the NATS servers and credentials are the
 * service's (`--nats*` flags, `PSI_NATS_PASSWORD` / `PSI_NATS_TOKEN`), so no
 * record on disk holds them.
 *
 * A service run keeps no checkpoint (there is no resume of a party job): a
 * run that is cancelled, interrupted or killed leaves no key material behind,
 * and is submitted again to rerun it.
 */
import { resolvePartyOptions, type SessionConfig } from '@troupe/actors';
import type { ActorSystem } from '@troupe/core';
import type { Cluster } from '@troupe/remote';
import { natsConnector } from '../natsParty.js';
import { runParty } from '../party.js';
import type { PartyJobRequest } from './JobRecord.js';
import type { PartyRunner } from './JobService.js';

/** The session configuration of a party job (throws `PsiOptionsError` naming the `psi party` flag). */
export function partySessionConfig(r: PartyJobRequest): SessionConfig {
  const { checkpointDir: _none, ...config } = resolvePartyOptions({
    side: r.side,
    file: r.file,
    key: r.key,
    outDir: r.out,
    session: r.session,
    reveal: r.reveal,
    cardinalityOnly: r.cardinalityOnly,
    threads: r.threads,
    batchSize: r.batch,
    delimiter: r.delimiter,
    peerTimeoutMs: r.peerTimeout * 1000,
    resume: false,
  });
  return config;
}

/** The {@link PartyRunner} of a service whose system has joined `cluster`. */
export function partyRunner(system: ActorSystem, cluster: Cluster): PartyRunner {
  return (id, request, hooks) => {
    const config = partySessionConfig(request);
    return runParty(system, config, natsConnector(cluster, config), {
      name: `psi-party-${id}`,
      signal: hooks.signal,
      onProgress: hooks.onProgress,
    });
  };
}
