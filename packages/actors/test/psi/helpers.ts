import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ActorDefinition, type ActorRef, type ActorSystem, defineActor } from '@troupe/core';
import {
  type PartyConfig,
  type PeerMsg,
  type PsiRelayInput,
  PsiSession,
  type SessionConfig,
  type SessionMsg,
  type Side,
  type SideSummary,
} from '../../src/index.js';

export const tmp = (prefix: string) => mkdtempSync(join(tmpdir(), `troupe-psi-${prefix}-`));

/** `n` keys `user-<start..start+n-1>@example.com`. */
export function emails(start: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `user-${String(start + i).padStart(5, '0')}@example.com`);
}

/** A CSV file `id,n` with one row per key. */
export function csvFile(dir: string, name: string, keys: readonly string[]): string {
  const file = join(dir, name);
  writeFileSync(file, `id,n\n${keys.map((k, i) => `${k},${i}`).join('\n')}\n`);
  return file;
}

/** A party's configuration, as `resolvePsiOptions` would make it. */
export function party(side: Side, file: string, outDir: string, extra: Partial<PartyConfig> = {}): PartyConfig {
  return {
    side,
    file,
    keyColumns: ['id'],
    delimiter: ',',
    outFile: join(outDir, `${side}.csv`),
    batchSize: 32,
    threads: 2,
    emptyKeys: 'match',
    limits: { memoryBytes: 256 * 2 ** 20, sortBytes: 64 * 2 ** 20, buckets: 16 },
    // The session makes its scratch folder next to its output.
    scratchDir: '',
    ...extra,
  };
}

/** How a session ended, and when (ms after the pair started). */
export interface Ended {
  ok?: SideSummary;
  error?: unknown;
  ms: number;
}

let pairs = 0;

/**
 * Two sessions as top-level actors, each told where the other's port is
 * (through `relay`, one per direction, when given): the wiring `runPsi` does,
 * but with each side's result on its own.
 */
export async function startPair(
  system: ActorSystem,
  left: SessionConfig,
  right: SessionConfig,
  // biome-ignore lint/suspicious/noExplicitAny: a relay's state is its own
  relay?: ActorDefinition<PeerMsg, any, PsiRelayInput>,
): Promise<{
  left: ActorRef<SessionMsg>;
  right: ActorRef<SessionMsg>;
  ended: { left: Promise<Ended>; right: Promise<Ended> };
  stop: () => Promise<void>;
}> {
  const n = ++pairs;
  const l = system.spawn(PsiSession, { name: `pair-${n}-left`, input: { config: left } });
  const r = system.spawn(PsiSession, { name: `pair-${n}-right`, input: { config: right } });
  const started = Date.now();
  const [lp, rp] = await Promise.all([
    l.ask<ActorRef<PeerMsg>>({ type: 'get-port' }),
    r.ask<ActorRef<PeerMsg>>({ type: 'get-port' }),
  ]);
  const extra: ActorRef<unknown & { type: string }>[] = [];
  const toRight = relay ? system.spawn(relay, { name: `pair-${n}-relay-l`, input: { from: 'left', to: rp } }) : rp;
  const toLeft = relay ? system.spawn(relay, { name: `pair-${n}-relay-r`, input: { from: 'right', to: lp } }) : lp;
  if (relay) extra.push(toRight, toLeft);
  const result = (ref: ActorRef<SessionMsg>): Promise<Ended> =>
    ref.ask<SideSummary>({ type: 'result' }, { timeoutMs: 300_000 }).then(
      (ok) => ({ ok, ms: Date.now() - started }),
      (error: unknown) => ({ error, ms: Date.now() - started }),
    );
  const ended = { left: result(l), right: result(r) };
  l.tell({ type: 'connect', peer: toRight });
  r.tell({ type: 'connect', peer: toLeft });
  return {
    left: l,
    right: r,
    ended,
    stop: async () => {
      await Promise.all([l, r, ...extra].map((ref) => system.stop(ref)));
    },
  };
}

/** A relay that passes every message on unchanged. */
export const PassRelay = defineActor<PeerMsg, undefined, PsiRelayInput>({
  init: () => undefined,
  receive: (_s, msg, ctx) => ctx.input.to.tell(msg),
});

/** What a corrupting relay does with one message from the lying side: send these instead, or stop (the link dies). */
export type Edit = (msg: PeerMsg, seen: Record<string, number>) => PeerMsg[] | 'stop';

/**
 * A relay that lets `edit` rewrite what `liar` sends (the other direction
 * passes unchanged): a lying peer, with a real session behind it.
 */
export function corrupting(liar: Side, edit: Edit): ActorDefinition<PeerMsg, Record<string, number>, PsiRelayInput> {
  return defineActor<PeerMsg, Record<string, number>, PsiRelayInput>({
    init: () => ({}),
    receive: (seen, msg, ctx) => {
      if (ctx.input.from !== liar) {
        ctx.input.to.tell(msg);
        return;
      }
      seen[msg.type] = (seen[msg.type] ?? 0) + 1;
      const out = edit(msg, seen);
      if (out === 'stop') {
        void ctx.stop();
        return;
      }
      for (const m of out) ctx.input.to.tell(m);
    },
  });
}
