import { chmodSync, linkSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorSystem, defineActor, silentLogger } from '@troupe/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatCsvRecord,
  hashToPoint,
  OprfCacheError,
  OprfKeyFileError,
  runUnbalancedCache,
  runUnbalancedQuery,
  type ToClientMsg,
  type ToServerMsg,
  type UnbalancedRelayInput,
} from '../../src/index.js';
import { readKeyFile } from '../../src/psi/OprfFiles.js';
import { evaluateFull, hashToGroup, multiply } from '../../src/psi/oprf.js';

let system: ActorSystem;
beforeAll(async () => {
  system = await ActorSystem.start({
    name: 'psi-unbalanced',
    signals: false,
    logger: silentLogger,
    workers: { size: 2 },
  });
});
afterAll(async () => {
  await system.shutdown();
});

type Row = string[];
const header = ['id', 'name', 'city'];
const dir = () => mkdtempSync(join(tmpdir(), 'troupe-upsi-'));
function writeCsv(file: string, rows: Row[], h = header): void {
  writeFileSync(file, `${[h, ...rows].map((r) => formatCsvRecord(r)).join('\n')}\n`);
}
/** The client's rows whose key the server has, sorted by key (file order within a key). */
function expected(client: Row[], server: Row[], h = header): string {
  const theirs = new Set(server.map((r) => r[0]));
  const kept = client.map((r, n) => ({ r, n })).filter((x) => theirs.has(x.r[0]));
  kept.sort((a, b) =>
    (a.r[0] as string) < (b.r[0] as string) ? -1 : (a.r[0] as string) > (b.r[0] as string) ? 1 : a.n - b.n,
  );
  return `${[h, ...kept.map((x) => x.r)].map((r) => formatCsvRecord(r)).join('\n')}\n`;
}

const serverRows: Row[] = Array.from({ length: 3000 }, (_, i) => [`user-${i}@example.com`, `s${i}`, 'Zürich, CH']);
serverRows.push(['ünï', 'x', 'y'], ['q"uote', 'x', 'y'], ['multi\nline', 'x', 'y'], ['user-7@example.com', 'dup', 'z']);
const clientRows: Row[] = [
  ...Array.from({ length: 200 }, (_, i) => [`user-${i * 29}@example.com`, `c${i}`, 'Oslo']),
  ['ünï', 'c', 'd'],
  ['q"uote', 'c', 'd'],
  ['not-there', 'c', 'd'],
  ['user-58@example.com', 'again', 'Lima'],
];

async function cacheFor(d: string, rows = serverRows, h = header, key = ['id']) {
  writeCsv(join(d, 'server.csv'), rows, h);
  return runUnbalancedCache(system, {
    server: join(d, 'server.csv'),
    key,
    keyFile: join(d, 'server.key'),
    cache: join(d, 'server.cache'),
    threads: 2,
    batchSize: 128,
  });
}

describe('unbalanced PSI', () => {
  it('answers a client query against a cached server set like a plain intersection', async () => {
    const d = dir();
    const built = await cacheFor(d);
    expect(built).toMatchObject({
      rows: serverRows.length,
      uniqueKeys: serverRows.length - 1,
      count: serverRows.length - 1,
      keyCreated: true,
    });
    writeCsv(join(d, 'client.csv'), clientRows);
    const q = await runUnbalancedQuery(system, {
      client: join(d, 'client.csv'),
      key: ['id'],
      keyFile: join(d, 'server.key'),
      cache: join(d, 'server.cache'),
      outDir: join(d, 'out'),
      threads: 2,
      batchSize: 32,
    });
    expect(readFileSync(join(d, 'out', 'client.csv'), 'utf8')).toBe(expected(clientRows, serverRows));
    expect(q.rows).toBe(clientRows.length);
    const theirs = new Set(serverRows.map((r) => r[0]));
    expect(q.matchedKeys).toBe(new Set(clientRows.map((r) => r[0]).filter((k) => theirs.has(k))).size);
    expect(q.transferredBytes).toBe(built.count * 12);
  });

  it('keeps the key and the cache at mode 0600, and reuses the key file for a new cache', async () => {
    const d = dir();
    const first = await cacheFor(d);
    expect(statSync(join(d, 'server.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(d, 'server.cache')).mode & 0o777).toBe(0o600);
    const again = await cacheFor(d);
    expect(again.keyCreated).toBe(false);
    expect(again.keyId).toBe(first.keyId);
  });

  it('never writes a cache or a result over its inputs or its key (by path or through a link): refused before any work', async () => {
    const d = dir();
    await cacheFor(d);
    const before = (f: string) => readFileSync(join(d, f));
    const server = before('server.csv');
    const key = before('server.key');
    const cache = (over: Partial<{ keyFile: string; cache: string }>) =>
      runUnbalancedCache(system, {
        server: join(d, 'server.csv'),
        key: ['id'],
        keyFile: join(d, 'server.key'),
        cache: join(d, 'server.cache'),
        threads: 2,
        ...over,
      });
    await expect(cache({ cache: join(d, 'server.csv') })).rejects.toThrow(
      /--cache .*server\.csv is the same file as --server/,
    );
    await expect(cache({ cache: join(d, 'server.key') })).rejects.toThrow(/--cache .* is the same file as --key-file/);
    linkSync(join(d, 'server.csv'), join(d, 'hard-linked.csv'));
    await expect(cache({ cache: join(d, 'hard-linked.csv') })).rejects.toThrow(
      /same file as --server .*through a link/,
    );
    await expect(cache({ keyFile: join(d, 'same.bin'), cache: join(d, 'same.bin') })).rejects.toThrow(
      /--cache .*same\.bin is the same file as --key-file/,
    );
    expect(before('server.csv')).toEqual(server);
    expect(before('server.key')).toEqual(key);
    // The query: --out holding the client's CSV, or a --copy that is the result.
    mkdirSync(join(d, 'q'));
    writeCsv(join(d, 'q', 'client.csv'), clientRows);
    const client = before('q/client.csv');
    const query = (over: Partial<{ outDir: string; copyFile: string }>) =>
      runUnbalancedQuery(system, {
        client: join(d, 'q', 'client.csv'),
        key: ['id'],
        keyFile: join(d, 'server.key'),
        cache: join(d, 'server.cache'),
        outDir: join(d, 'q'),
        threads: 2,
        ...over,
      });
    await expect(query({})).rejects.toThrow(/--out .*client\.csv is the same file as --client/);
    await expect(query({ outDir: join(d, 'r'), copyFile: join(d, 'r', 'client.csv') })).rejects.toThrow(
      /--out .* is the same file as --copy/,
    );
    await expect(query({ outDir: join(d, 'r'), copyFile: join(d, 'server.key') })).rejects.toThrow(
      /--copy .* is the same file as --key-file/,
    );
    expect(before('q/client.csv')).toEqual(client);
    expect(before('server.key')).toEqual(key);
  });

  it('transfers the entries once: a second query with the client copy sends none and gives the same answer', async () => {
    const d = dir();
    await cacheFor(d);
    writeCsv(join(d, 'client.csv'), clientRows);
    const query = (out: string) =>
      runUnbalancedQuery(system, {
        client: join(d, 'client.csv'),
        key: ['id'],
        keyFile: join(d, 'server.key'),
        cache: join(d, 'server.cache'),
        outDir: join(d, out),
        copyFile: join(d, 'copy.cache'),
        threads: 2,
      });
    const a = await query('out1');
    const b = await query('out2');
    expect(a.fromCopy).toBe(false);
    expect(a.transferredBytes).toBeGreaterThan(0);
    expect(b.fromCopy).toBe(true);
    expect(b.transferredBytes).toBe(0);
    expect(readFileSync(join(d, 'out2', 'client.csv'), 'utf8')).toBe(
      readFileSync(join(d, 'out1', 'client.csv'), 'utf8'),
    );
    expect(statSync(join(d, 'copy.cache')).mode & 0o777).toBe(0o600);
    // A damaged copy is refused with its reason, not silently used.
    const copy = readFileSync(join(d, 'copy.cache'));
    copy[20] = (copy[20] as number) ^ 1;
    writeFileSync(join(d, 'copy.cache'), copy);
    await expect(query('out3')).rejects.toThrow(/cache copy fails its integrity check/);
  });

  it('refuses a tampered, truncated, foreign or mismatched cache, and a key file others can read', async () => {
    const d = dir();
    await cacheFor(d);
    writeCsv(join(d, 'client.csv'), clientRows);
    const good = readFileSync(join(d, 'server.cache'));
    const query = (cache: string, keyFile = join(d, 'server.key'), key = ['id']) =>
      runUnbalancedQuery(system, {
        client: join(d, 'client.csv'),
        key,
        keyFile,
        cache,
        outDir: join(d, 'out'),
        threads: 2,
      }).then(
        () => new Error('the query was not refused'),
        (e: unknown) => e as Error,
      );
    const variant = (name: string, bytes: Buffer) => {
      writeFileSync(join(d, name), bytes, { mode: 0o600 });
      return join(d, name);
    };
    const flipped = Buffer.from(good);
    flipped[100] = (flipped[100] as number) ^ 0x40;
    const e1 = await query(variant('flipped.cache', flipped));
    expect(e1).toBeInstanceOf(OprfCacheError);
    expect(e1).toMatchObject({ problem: 'tampered' });
    expect(e1.message).toMatch(/fails its integrity check \(HMAC\)/);
    const e2 = await query(variant('short.cache', good.subarray(0, good.length - 100)));
    expect(e2).toMatchObject({ problem: 'tampered' });
    const e3 = await query(
      variant('foreign.cache', Buffer.from('id,name\nnot,a cache at all, really....................\n')),
    );
    expect(e3).toMatchObject({ problem: 'not-a-cache' });
    // A newer format version (the header rewritten: refused before the HMAC is even checked).
    const text = good.toString('latin1').replace('"version":1', '"version":9');
    const e4 = await query(variant('v9.cache', Buffer.from(text, 'latin1')));
    expect(e4).toMatchObject({ problem: 'version' });
    expect(e4.message).toMatch(/format version 9; this build reads version 1/);
    // Made with another key: name both key ids.
    const other = dir();
    await cacheFor(other);
    const e5 = await query(join(d, 'server.cache'), join(other, 'server.key'));
    expect(e5).toMatchObject({ problem: 'mismatch' });
    expect(e5.message).toMatch(
      /was made with another key \(key id [0-9a-f]{32}\) than the key file given \(key id [0-9a-f]{32}\)/,
    );
    // A client keyed on another number of columns than the cache.
    writeCsv(join(d, 'client2.csv'), [['a', 'b', 'c']]);
    const e6 = await runUnbalancedQuery(system, {
      client: join(d, 'client2.csv'),
      key: ['id', 'name'],
      keyFile: join(d, 'server.key'),
      cache: join(d, 'server.cache'),
      outDir: join(d, 'out6'),
      threads: 2,
    }).catch((e: unknown) => e as Error);
    expect((e6 as Error).message).toMatch(/was made with 1 key column\(s\); this query names 2 \(id,name\)/);
    // The key file must be private.
    chmodSync(join(d, 'server.key'), 0o644);
    const e7 = await query(join(d, 'server.cache'));
    expect(e7).toBeInstanceOf(OprfKeyFileError);
    expect(e7.message).toMatch(/may be read by others \(mode 0644\).*chmod 600/);
  });
});

// ---------------------------------------------------------------- privacy: what crosses between the roles

interface Crossing {
  from: 'client' | 'server';
  msg: ToServerMsg | ToClientMsg;
}
const wire: Crossing[] = [];
const Recorder = defineActor<ToServerMsg | ToClientMsg, undefined, UnbalancedRelayInput>({
  init: () => undefined,
  receive: (_s, msg, ctx) => {
    wire.push({ from: ctx.input.from, msg: structuredClone(msg) });
    ctx.input.to.tell(msg);
  },
});

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
function slots(b: Uint8Array, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < b.byteLength; i += size) out.push(hex(b.subarray(i, i + size)));
  return out;
}

describe('unbalanced PSI privacy: what crosses between client and server', () => {
  it('sends the server only blinded points: never a key, its hash, H1 of it, or its OPRF point; fresh blinds each query', async () => {
    const d = dir();
    await cacheFor(d);
    writeCsv(join(d, 'client.csv'), clientRows);
    const run = async (out: string) => {
      wire.length = 0;
      await runUnbalancedQuery(system, {
        client: join(d, 'client.csv'),
        key: ['id'],
        keyFile: join(d, 'server.key'),
        cache: join(d, 'server.cache'),
        outDir: join(d, out),
        threads: 2,
        batchSize: 16,
        relay: Recorder,
      });
      return [...wire];
    };
    const first = await run('o1');
    const second = await run('o2');
    const key = await readKeyFile(join(d, 'server.key'));
    const clientKeys = [...new Set(clientRows.map((r) => r[0] as string))];
    const us = hashToPoint(clientKeys);
    const h1 = hashToGroup(us);
    const forbidden = new Set([
      ...slots(us, 32), // SHA-256 of the keys
      ...slots(h1, 32), // H1(u)
      ...slots(multiply(key, h1, 'test'), 32), // k * H1(u): what the client recovers; the server must never get it
    ]);
    const outputs = new Set(slots(evaluateFull(key, us), 12)); // the client's OPRF outputs
    const blindedOf = (w: Crossing[]) => w.flatMap((c) => (c.msg.type === 'u-blinded' ? slots(c.msg.points, 32) : []));
    for (const w of [first, second]) {
      const types = new Set(w.map((c) => `${c.from}:${c.msg.type}`));
      expect([...types].sort()).toEqual(
        [
          'client:u-blinded',
          'client:u-done',
          'client:u-hello',
          'client:u-pull',
          'server:u-entries',
          'server:u-evaluated',
          'server:u-welcome',
        ].sort(),
      );
      const blinded = blindedOf(w);
      expect(blinded).toHaveLength(clientKeys.length); // one per unique key: the size is all the server learns
      expect(blinded.filter((b) => forbidden.has(b))).toEqual([]);
      // The server's answers are not the unblinded points either.
      const answers = w.flatMap((c) => (c.msg.type === 'u-evaluated' ? slots(c.msg.points, 32) : []));
      expect(answers.filter((b) => forbidden.has(b))).toEqual([]);
      // Nothing the client sends contains a raw key, an output, or any text but the handshake's.
      for (const c of w) {
        if (c.from !== 'client') continue;
        for (const [field, value] of Object.entries(c.msg)) {
          if (value instanceof Uint8Array) {
            const h = hex(value);
            for (const k of clientKeys) expect(h.includes(Buffer.from(k).toString('hex'))).toBe(false);
            for (const o of outputs) expect(h.includes(o)).toBe(false);
          } else if (typeof value === 'string') {
            expect(['type', 'suite', 'have']).toContain(field);
          } else expect(typeof value).toBe('number');
        }
      }
    }
    // Blinds are fresh per query: the same keys look entirely different the second time.
    const again = new Set(blindedOf(second));
    expect(blindedOf(first).filter((b) => again.has(b))).toEqual([]);
    // What the server hands out is exactly its set's OPRF outputs under its key (nothing else).
    const serverKeys = [...new Set(serverRows.map((r) => r[0] as string))];
    const entries = first.flatMap((c) => (c.msg.type === 'u-entries' ? slots(c.msg.bytes, 12) : []));
    expect(new Set(entries)).toEqual(new Set(slots(evaluateFull(key, hashToPoint(serverKeys)), 12)));
    const serverHashes = new Set(slots(hashToPoint(serverKeys), 32).map((h) => h.slice(0, 24)));
    expect(entries.filter((e) => serverHashes.has(e))).toEqual([]);
  });
});
