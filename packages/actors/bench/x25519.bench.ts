/**
 * X25519 micro-benchmark: ops/s per core for each candidate primitive, side by
 * side, and the chosen one on every core with worker threads.
 *
 *   cd packages/actors && pnpm bench:x25519 [--seconds 1.5] [--rounds 3]
 *
 * Each candidate computes X25519(k, u) for a batch of random 32-byte points
 * (the shape maskBatch sees). Reported: best and median of the rounds, since
 * other processes on the machine can only make a round slower.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { x25519 as noble } from '@noble/curves/ed25519.js';
import { generateKey, maskBatch } from '../src/index.js';

const BATCH = 4096;

interface Candidate {
  readonly name: string;
  readonly note: string;
  /** Masks `count` points of `input` into `out`. */
  run(key: Uint8Array, input: Uint8Array, out: Uint8Array, count: number): void;
  /** Points per round; slow candidates get fewer. */
  readonly batch?: number;
}

interface SodiumNative {
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
}
const sodium = createRequire(import.meta.url)('sodium-native') as SodiumNative;

const PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI = Buffer.from('302a300506032b656e032100', 'hex');
const privateKeyOf = (key: Uint8Array) =>
  crypto.createPrivateKey({ key: Buffer.concat([PKCS8, key]), format: 'der', type: 'pkcs8' });

const candidates: Candidate[] = [
  {
    name: 'maskBatch (sodium-native)',
    note: 'chosen: libsodium crypto_scalarmult via N-API, no allocation per point',
    run: (key, input, out) => maskBatch(key, input, out, { backend: 'sodium-native' }),
  },
  {
    name: 'sodium-native raw loop',
    note: 'crypto_scalarmult straight into subarrays: the wrapper costs nothing',
    run: (key, input, out, count) => {
      for (let i = 0; i < count; i++) {
        sodium.crypto_scalarmult(out.subarray(i * 32, i * 32 + 32), key, input.subarray(i * 32, i * 32 + 32));
      }
    },
  },
  {
    name: 'maskBatch (node-crypto, JWK)',
    note: 'fallback: crypto.diffieHellman, a public KeyObject per point from JWK',
    run: (key, input, out) => maskBatch(key, input, out, { backend: 'node-crypto' }),
  },
  {
    name: 'node-crypto, DER template',
    note: 'SPKI DER template with the point patched in per item: OpenSSL 3 DER decoding is slow',
    run: (key, input, out, count) => {
      const privateKey = privateKeyOf(key);
      const der = Buffer.concat([SPKI, Buffer.alloc(32)]);
      for (let i = 0; i < count; i++) {
        der.set(input.subarray(i * 32, i * 32 + 32), SPKI.length);
        const publicKey = crypto.createPublicKey({ key: der, format: 'der', type: 'spki' });
        out.set(crypto.diffieHellman({ privateKey, publicKey }), i * 32);
      }
    },
  },
  {
    name: '@noble/curves (pure JS)',
    note: 'test oracle only',
    batch: 256,
    run: (key, input, out, count) => {
      for (let i = 0; i < count; i++) out.set(noble.scalarMult(key, input.subarray(i * 32, i * 32 + 32)), i * 32);
    },
  },
];

/** Runs `candidate` for about `seconds`, returning ops/s. */
function measure(candidate: Candidate, seconds: number): number {
  const n = candidate.batch ?? BATCH;
  const key = generateKey();
  const input = crypto.randomBytes(n * 32);
  const out = new Uint8Array(n * 32);
  let ops = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < deadline) {
    candidate.run(key, input, out, n);
    ops += n;
    now = process.hrtime.bigint();
  }
  return ops / (Number(now - start) / 1e9);
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(9);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

if (!isMainThread) {
  // Worker side: mask batches with the chosen primitive for the given time.
  const { seconds } = workerData as { seconds: number };
  parentPort!.postMessage(measure(candidates[0]!, seconds));
} else {
  const seconds = arg('seconds', 1.5);
  const rounds = arg('rounds', 3);
  console.log(
    `X25519 ops/s per core, Node ${process.version}, ${availableParallelism()} cores, ${rounds} rounds of ${seconds} s`,
  );
  try {
    const speed = execFileSync('openssl', ['speed', '-seconds', String(Math.ceil(seconds)), 'ecdhx25519'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const line = speed.split('\n').find((l) => l.includes('X25519'));
    const opsPerSec = line?.trim().split(/\s+/).at(-1);
    if (opsPerSec)
      console.log(
        `${'openssl speed ecdhx25519'.padEnd(30)} ${fmt(Number(opsPerSec))}          ceiling: C, no JS at all`,
      );
  } catch {
    console.log('openssl speed: not available');
  }
  console.log(`${'candidate'.padEnd(30)} ${'best'.padStart(9)} ${'median'.padStart(9)}  note`);
  for (const c of candidates) {
    measure(c, 0.2); // warm up
    const results = Array.from({ length: rounds }, () => measure(c, c.batch ? seconds / 3 : seconds));
    console.log(`${c.name.padEnd(30)} ${fmt(Math.max(...results))} ${fmt(median(results))}  ${c.note}`);
  }

  const threads = availableParallelism();
  const totals: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const perWorker = await Promise.all(
      Array.from(
        { length: threads },
        () =>
          new Promise<number>((resolve, reject) => {
            const w = new Worker(new URL('./ts-worker-boot.mjs', import.meta.url), {
              workerData: { seconds, tsFile: import.meta.url },
            });
            w.once('message', resolve);
            w.once('error', reject);
          }),
      ),
    );
    totals.push(perWorker.reduce((a, b) => a + b, 0));
  }
  console.log(
    `${`maskBatch, ${threads} worker threads`.padEnd(30)} ${fmt(Math.max(...totals))} ${fmt(median(totals))}  all cores together (${fmt(Math.max(...totals) / threads).trim()}/core)`,
  );
}
