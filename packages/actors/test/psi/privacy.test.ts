/**
 * What a PSI party reveals to its peer, checked on the wire between the two
 * exchangers (a recording relay) and inside the maskers (an instrumented
 * masker that dumps the key each incarnation starts with). The intersection
 * being right proves nothing about privacy: these tests check the key.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorSystem, defineActor, type Logger, workerActor } from '@troupe/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ExchangerMsg,
  hashToPoint,
  type MaskerInput,
  type MaskerMsg,
  maskBatch,
  type PsiOptions,
  type PsiRelayInput,
  runPsi,
  type Side,
  X25519_BYTES,
} from '../../src/index.js';

const work = mkdtempSync(join(tmpdir(), 'troupe-psi-privacy-'));
const dumpFile = join(work, 'keys.jsonl');
// Worker threads copy the environment when they start: set it before the first masker.
process.env.TROUPE_PSI_KEY_DUMP = dumpFile;
const recordingMasker = workerActor<MaskerMsg, MaskerInput>(
  new URL('../fixtures/recordingMasker.ts', import.meta.url),
  'RecordingMasker',
);

/** Everything the runtime says: log lines with their fields, and every event. */
const said: unknown[] = [];
const logger: Logger = {
  debug: (message, fields) => said.push({ level: 'debug', message, fields }),
  info: (message, fields) => said.push({ level: 'info', message, fields }),
  warn: (message, fields) => said.push({ level: 'warn', message, fields }),
  error: (message, fields) => said.push({ level: 'error', message, fields }),
};

let system: ActorSystem;
beforeAll(async () => {
  system = await ActorSystem.start({ name: 'psi-privacy', signals: false, logger, workers: { size: 2 } });
  for (const name of ['spawned', 'started', 'restarted', 'stopped', 'failed', 'deadLetter', 'lifecycle'] as const) {
    system.events.on(name, (e: unknown) => said.push({ event: name, e }));
  }
});
afterAll(async () => {
  await system.shutdown();
});

// ---------------------------------------------------------------- the wire between the parties

interface Crossing {
  run: number;
  from: Side;
  msg: ExchangerMsg;
}
const wire: Crossing[] = [];
let currentRun = 0;

/** Deep copy, so what we keep is what crossed (the receiver owns the original). */
function copy<T>(v: T): T {
  return structuredClone(v);
}

const RecordingRelay = defineActor<ExchangerMsg, undefined, PsiRelayInput>({
  init: () => undefined,
  receive: (_s, msg, ctx) => {
    wire.push({ run: currentRun, from: ctx.input.from, msg: copy(msg) });
    ctx.input.to.tell(msg);
  },
});

// ---------------------------------------------------------------- data and helpers

const leftKeys = Array.from({ length: 300 }, (_, i) => `user-${String(i).padStart(5, '0')}@example.com`);
const rightKeys = Array.from({ length: 300 }, (_, i) => `user-${String(i + 150).padStart(5, '0')}@example.com`);
const inter = leftKeys.filter((k) => rightKeys.includes(k));
function files(): { left: string; right: string } {
  const d = mkdtempSync(join(work, 'in-'));
  const left = join(d, 'a.csv');
  const right = join(d, 'b.csv');
  writeFileSync(left, `id,n\n${leftKeys.map((k, i) => `${k},${i}`).join('\n')}\n`);
  writeFileSync(right, `id,n\n${rightKeys.map((k, i) => `${k},${i}`).join('\n')}\n`);
  return { left, right };
}

async function psi(extra: Partial<PsiOptions> = {}) {
  const run = ++currentRun;
  const { left, right } = files();
  const summary = await runPsi(system, {
    left,
    right,
    key: ['id'],
    outDir: join(work, `out-${run}`),
    threads: 2,
    batchSize: 32,
    masker: recordingMasker,
    relay: RecordingRelay,
    ...extra,
  });
  return { run, summary, crossings: wire.filter((c) => c.run === run) };
}

interface Dumped {
  event: 'init' | 'stopped';
  path: string;
  key?: string;
  zeroed?: boolean;
}
function dumped(): Dumped[] {
  return readFileSync(dumpFile, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Dumped);
}
/** The key each masker incarnation of run `run` started with, per side. */
function keysOf(run: number): Record<Side, string[]> {
  const out: Record<Side, string[]> = { left: [], right: [] };
  for (const d of dumped()) {
    const m = /^\/user\/psi-(\d+)\/(left|right)\/masker-\d+$/.exec(d.path);
    if (d.event === 'init' && m !== null && Number(m[1]) === runIndex(run)) out[m[2] as Side].push(d.key as string);
  }
  return out;
}
/** runPsi names its jobs psi-1, psi-2... per process; this file's runs are the only ones. */
const runIndex = (run: number) => run;

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const fromHex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
function slots(bytes: Uint8Array, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < bytes.byteLength; i += size) out.push(hex(bytes.subarray(i, i + size)));
  return out;
}
const points = (items: string[]) => hashToPoint(items);
const masked = (key: Uint8Array, items: string[]) => slots(maskBatch(key, points(items)), X25519_BYTES);
const last12 = (values: string[]) => values.map((v) => v.slice(-24));
/** The all-zero key, as every masker used before the fix (X25519 clamps it to 2^254). */
const ZERO = new Uint8Array(32);

function sentPoints(crossings: Crossing[], from: Side): string[] {
  return crossings.flatMap((c) =>
    c.from === from && c.msg.type === 'peer-batch' ? slots(c.msg.points, X25519_BYTES) : [],
  );
}
function returned(crossings: Crossing[], from: Side): string[] {
  return crossings.flatMap((c) => (c.from === from && c.msg.type === 'returned' ? slots(c.msg.doubles, 12) : []));
}

// ---------------------------------------------------------------- the tests

describe('PSI privacy: what crosses between the parties', () => {
  it('masks with a fresh non-zero clamped key per party, the same in every masker of that party', async () => {
    const { run, summary } = await psi();
    expect(summary.intersection).toBe(inter.length);
    const keys = keysOf(run);
    for (const side of ['left', 'right'] as const) {
      expect(keys[side]).toHaveLength(2); // one masker per thread
      expect(new Set(keys[side]).size).toBe(1);
      const k = fromHex(keys[side][0] as string);
      expect(k.some((b) => b !== 0)).toBe(true);
      // Clamped as RFC 7748 decodes a scalar: low 3 bits clear, bit 255 clear, bit 254 set.
      expect((k[0] as number) & 7).toBe(0);
      expect((k[31] as number) & 0xc0).toBe(0x40);
    }
    expect(keys.left[0]).not.toBe(keys.right[0]);
  });

  it('sends the peer exactly X25519(own key, H(x)) of its own items: never H(x), nor a mask under the zero key or the peer key', async () => {
    const { run, crossings } = await psi();
    const keys = keysOf(run);
    const k = { left: fromHex(keys.left[0] as string), right: fromHex(keys.right[0] as string) };
    const own = { left: leftKeys, right: rightKeys };
    const everyone = [...new Set([...leftKeys, ...rightKeys])];
    for (const side of ['left', 'right'] as const) {
      const peer: Side = side === 'left' ? 'right' : 'left';
      const sent = sentPoints(crossings, side);
      expect(sent).toHaveLength(own[side].length);
      // The positive check: these values could only be made with this party's real key.
      expect(new Set(sent)).toEqual(new Set(masked(k[side], own[side])));
      const forbidden = new Set([
        ...slots(points(everyone), X25519_BYTES),
        ...masked(ZERO, everyone),
        ...masked(k[peer], everyone),
      ]);
      expect(sent.filter((v) => forbidden.has(v))).toEqual([]);
      // What comes back to the peer: its own items under both keys (12 bytes), never a single mask.
      const back = returned(crossings, side);
      const doubled = maskBatch(k[side], maskBatch(k[peer], points(own[peer])));
      expect(new Set(back)).toEqual(new Set(last12(slots(doubled, X25519_BYTES))));
      const single = new Set(
        last12([...masked(k.left, everyone), ...masked(k.right, everyone), ...masked(ZERO, everyone)]),
      );
      expect(back.filter((v) => single.has(v))).toEqual([]);
    }
  });

  it('carries only byte arrays and counts across: no raw key, its hash or any other text', async () => {
    const { crossings } = await psi();
    const types = new Set(crossings.map((c) => c.msg.type));
    expect([...types].sort()).toEqual(['peer-batch', 'peer-end', 'returned']);
    const rawKeys = [...leftKeys, ...rightKeys].map((k) => Buffer.from(k).toString('hex'));
    for (const { msg } of crossings) {
      for (const [field, value] of Object.entries(msg)) {
        if (field === 'type') continue;
        expect(typeof value === 'number' || value instanceof Uint8Array, `${msg.type}.${field}`).toBe(true);
        if (value instanceof Uint8Array) {
          const h = hex(value);
          for (const raw of rawKeys) expect(h.includes(raw)).toBe(false);
        }
      }
    }
  });

  it('exchanges different values in two runs on the same files (fresh keys each run)', async () => {
    const a = await psi();
    const b = await psi();
    const ka = keysOf(a.run);
    const kb = keysOf(b.run);
    expect(ka.left[0]).not.toBe(kb.left[0]);
    expect(ka.right[0]).not.toBe(kb.right[0]);
    for (const side of ['left', 'right'] as const) {
      const first = new Set(sentPoints(a.crossings, side));
      const again = sentPoints(b.crossings, side);
      expect(again.length).toBe(first.size);
      expect(again.filter((v) => first.has(v))).toEqual([]);
    }
  });

  it('still masks with the party key after a masker thread dies mid-run, and the answer is still right', async () => {
    const { run, summary, crossings } = await psi({ killMaskerAfterBatches: 3 });
    expect(summary.intersection).toBe(inter.length);
    expect(summary.left.matchedRows).toBe(inter.length);
    const keys = keysOf(run);
    // The crashed masker started again (a third incarnation on the left), with the same real key.
    expect(keys.left.length).toBeGreaterThanOrEqual(3);
    expect(new Set(keys.left).size).toBe(1);
    expect(fromHex(keys.left[0] as string).some((b) => b !== 0)).toBe(true);
    const k = fromHex(keys.left[0] as string);
    expect(new Set(sentPoints(crossings, 'left'))).toEqual(new Set(masked(k, leftKeys)));
  });

  it('leaves every masker copy of the key zeroed when the run ends', async () => {
    const { run } = await psi();
    const prefix = new RegExp(`^/user/psi-${runIndex(run)}/(left|right)/masker-\\d+$`);
    const stopped = dumped().filter((d) => d.event === 'stopped' && prefix.test(d.path));
    expect(stopped).toHaveLength(4); // 2 maskers per party
    expect(stopped.every((d) => d.zeroed === true)).toBe(true);
  });

  it('never puts a key in a log line, an event, a dead letter, an error or the shutdown report', async () => {
    // A run with a masker crash (failure logs and events) and a run that fails on bad input.
    await psi({ killMaskerAfterBatches: 2 });
    const bad = join(work, 'bad.csv');
    writeFileSync(bad, 'id,n\nx,1\ny\n');
    const error = await runPsi(system, {
      left: bad,
      right: files().right,
      key: ['id'],
      outDir: join(work, 'out-bad'),
      threads: 2,
      masker: recordingMasker,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    const report = await system.shutdown();
    const everyKey = dumped().flatMap((d) => (d.key === undefined ? [] : [d.key]));
    expect(everyKey.length).toBeGreaterThan(0);
    const text = JSON.stringify(
      {
        said,
        error: { message: (error as Error).message, stack: (error as Error).stack },
        report,
        dead: system.deadLetters.recent(),
      },
      (_k, v) =>
        v instanceof Uint8Array
          ? hex(v)
          : v instanceof Error
            ? { name: v.name, message: v.message, stack: v.stack }
            : v,
    );
    for (const key of new Set(everyKey)) {
      expect(text.includes(key)).toBe(false);
      expect(text.includes(Buffer.from(key, 'hex').toString('base64'))).toBe(false);
      expect(text.includes([...Buffer.from(key, 'hex')].join(','))).toBe(false);
    }
  });
});
