/**
 * Privacy on the wire between two `psi party` processes (issue 11, in CI): a
 * client subscribed to everything (`>`) on the real nats-server records every
 * message of a run, and the test looks in it for what must never cross: a
 * raw key value, its SHA-256 (which is also H(x), the unmasked point), or
 * X25519(k, H(x)) under a known key. Two runs on the same files must exchange
 * different values; with `--reveal left` only the left side gets back what
 * would let it match its own items.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { hashToPoint, mask } from '@troupe/actors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpack } from '../../remote/src/Packer.js';
import { type NatsServer, startNatsServer } from '../../remote/test/helpers/NatsServer.js';
import { outputs, type PartyProcess, partyArgs, startParty, writePair } from './helpers/party.js';

let server: NatsServer;
let work: string;
let sniffer: NatsConnection;
const started: PartyProcess[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  work = mkdtempSync(join(tmpdir(), 'troupe-psi-privacy-'));
  sniffer = await connect({ servers: server.url });
});
afterAll(async () => {
  for (const p of started) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
  await sniffer?.close();
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

interface Captured {
  subject: string;
  data: Uint8Array;
}

/** Record every message on the server until `stop()`. */
function record(): { messages: Captured[]; stop: () => Promise<void> } {
  const messages: Captured[] = [];
  const sub = sniffer.subscribe('>');
  const done = (async () => {
    for await (const m of sub) messages.push({ subject: m.subject, data: new Uint8Array(m.data) });
  })();
  return {
    messages,
    stop: async () => {
      await sniffer.flush();
      sub.unsubscribe();
      await done;
    },
  };
}

/**
 * The batches of the Troupe data frames in a capture (see @troupe/remote's
 * README, "Envelope"): chunks put back together per sender and sequence, then
 * decoded (packed or v8, by the payload's first byte). Everything else (heartbeats, credits, the registry's KV) is
 * searched as raw bytes only.
 */
function batches(messages: Captured[]): { subject: string; value: unknown }[] {
  const parts = new Map<string, { subject: string; count: number; chunks: Map<number, Uint8Array> }>();
  const out: { subject: string; value: unknown }[] = [];
  for (const m of messages) {
    const d = m.data;
    if (d.length < 45 || d[0] !== 0x54 || d[1] !== 0x52 || d[3] !== 1) continue;
    const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const sender = Buffer.from(d.subarray(8, 16)).toString('hex');
    const seq = view.getUint32(24);
    const index = view.getUint16(28);
    const count = view.getUint16(30);
    const n = d[44] as number;
    const id = `${m.subject} ${sender} ${seq}`;
    const entry = parts.get(id) ?? { subject: m.subject, count, chunks: new Map() };
    entry.chunks.set(index, d.subarray(45 + n));
    parts.set(id, entry);
    if (entry.chunks.size === entry.count) {
      parts.delete(id);
      const whole = Buffer.concat([...entry.chunks.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c));
      out.push({ subject: entry.subject, value: unpack(whole) });
    }
  }
  return out;
}

/** Every byte array and every object's `type` inside a deserialised batch. */
function walk(value: unknown, arrays: Uint8Array[], types: string[], depth = 0): void {
  if (depth > 20 || value === null || typeof value !== 'object') return;
  if (ArrayBuffer.isView(value)) {
    arrays.push(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    return;
  }
  if (value instanceof ArrayBuffer) {
    arrays.push(new Uint8Array(value));
    return;
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type === 'string') types.push(type);
  for (const v of value instanceof Map ? value.values() : Object.values(value)) walk(v, arrays, types, depth + 1);
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Every `width`-byte window of `data`, as hex. */
function* windows(data: Uint8Array, width: number): Generator<string> {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i + width <= b.length; i++) yield b.toString('hex', i, i + width);
}

let sessions = 0;
async function twoParties(n: number, extra: string[] = []) {
  const dir = mkdtempSync(join(work, 'run-'));
  const files = writePair(dir, n);
  const session = `privacy-${++sessions}-${process.pid}`;
  const outL = join(dir, 'out-left');
  const outR = join(dir, 'out-right');
  const rec = record();
  const run = (side: 'left' | 'right') => {
    const p = startParty(
      partyArgs({
        side,
        file: side === 'left' ? files.left : files.right,
        out: side === 'left' ? outL : outR,
        session,
        nats: server.url,
        extra: ['--batch', '128', ...extra],
      }),
    );
    started.push(p);
    return p;
  };
  const left = run('left');
  const right = run('right');
  const [l, r] = await Promise.all([left.exited, right.exited]);
  await rec.stop();
  expect(l.code, left.stderr()).toBe(0);
  expect(r.code, right.stderr()).toBe(0);
  const summary = (p: PartyProcess) => JSON.parse(p.stdout().trim().split('\n').pop() as string);
  return { files, session, outL, outR, messages: rec.messages, left: summary(left), right: summary(right) };
}

describe('privacy on the wire between two psi party processes', { timeout: 120_000 }, () => {
  const N = 600;
  let first: Awaited<ReturnType<typeof twoParties>>;

  it('no raw key, no SHA-256 of a key (H(x)) and no X25519(k, H(x)) under a known key crosses the server', async () => {
    first = await twoParties(N);
    const { messages, files } = first;
    const raw = Buffer.concat(messages.map((m) => m.data));
    // The recording works: the hello (with the session name) and every masked batch went through it.
    expect(raw.includes(Buffer.from(first.session))).toBe(true);
    const arrays: Uint8Array[] = [];
    for (const b of batches(messages)) walk(b.value, arrays, []);
    const carried = arrays.reduce((t, a) => t + a.byteLength, 0);
    expect(carried).toBeGreaterThanOrEqual(2 * N * (32 + 12));

    // Nothing of the key values themselves, nor of the other columns.
    for (const text of ['example.org', 'person-', ...files.keys.slice(0, 50)]) {
      expect(raw.includes(Buffer.from(text)), text).toBe(false);
    }
    const known = [new Uint8Array(32), new Uint8Array(32).fill(1), new Uint8Array(32).fill(0xff)];
    known[2]![0] = 0xf8; // any scalar: X25519 clamps it
    const forbidden32 = new Set<string>();
    const forbidden12 = new Set<string>();
    for (const key of files.keys) {
      const h = hashToPoint([key]); // SHA-256 of the key: also the unmasked point
      forbidden32.add(hex(h));
      for (const k of known) {
        const m = mask(k, h);
        forbidden32.add(hex(m));
        forbidden12.add(hex(m.subarray(20)));
      }
    }
    let checked = 0;
    for (const m of [...messages.map((x) => x.data), ...arrays]) {
      for (const w of windows(m, 32)) {
        checked++;
        if (forbidden32.has(w)) throw new Error(`a forbidden 32-byte value crossed the server: ${w}`);
      }
    }
    for (const a of arrays) {
      for (const w of windows(a, 12)) {
        if (forbidden12.has(w)) throw new Error(`the compared tail of a known-key mask crossed the server: ${w}`);
      }
    }
    expect(checked).toBeGreaterThan(2 * N * 32);
  });

  it('two runs on the same files exchange different values (fresh keys per party per run)', async () => {
    const second = await twoParties(N);
    const values = (messages: Captured[]) => {
      const arrays: Uint8Array[] = [];
      for (const b of batches(messages)) walk(b.value, arrays, []);
      const set = new Set<string>();
      for (const a of arrays) {
        const width = a.byteLength % 32 === 0 ? 32 : a.byteLength % 12 === 0 ? 12 : 0;
        for (let i = 0; width > 0 && i + width <= a.byteLength; i += width) set.add(hex(a.subarray(i, i + width)));
      }
      return set;
    };
    const a = values(first.messages);
    const b = values(second.messages);
    expect(a.size).toBeGreaterThan(2 * N);
    expect(b.size).toBeGreaterThan(2 * N);
    const common = [...a].filter((v) => b.has(v));
    expect(common).toEqual([]);
    // And the result is the same.
    expect(readFileSync(join(second.outL, 'left.csv'), 'utf8')).toBe(second.files.expectLeft);
  });

  it('with --reveal left only the left side is sent the answers that match its items; the right learns nothing', async () => {
    const run = await twoParties(N, ['--reveal', 'left']);
    expect(readFileSync(join(run.outL, 'left.csv'), 'utf8')).toBe(run.files.expectLeft);
    expect(outputs(run.outR)).toEqual([]);
    expect(run.right).toMatchObject({ learned: 'nothing', matchedKeys: null, outFile: null, matchedRows: 0 });
    expect(run.left).toMatchObject({ learned: 'rows', matchedKeys: N / 2 });
    const to = (side: string) => {
      const types: string[] = [];
      const arrays: Uint8Array[] = [];
      for (const b of batches(run.messages)) if (b.subject.includes(`.node.psi-${side}-`)) walk(b.value, arrays, types);
      return { types, bytes: arrays.reduce((t, a) => t + a.byteLength, 0) };
    };
    const toLeft = to('left');
    const toRight = to('right');
    expect(toLeft.types).toContain('returned');
    expect(toRight.types).toContain('batch');
    expect(toRight.types).not.toContain('returned');
    expect(toRight.types).not.toContain('shuffled');
    // The right side receives the left's masked points and nothing more: 32 bytes per left item.
    expect(toRight.bytes).toBe(N * 32);
  });
});
