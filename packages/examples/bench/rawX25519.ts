/**
 * The physical limit both PSI benches measure against: X25519 scalar
 * multiplications per second on `n` threads, with sodium-native as the
 * maskers use it.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);

/** X25519 scalar multiplications per second on `n` threads (sodium-native, as the maskers use). */
export async function rawX25519(n: number, perThread = 40_000): Promise<number> {
  const sodiumPath = require.resolve('sodium-native', {
    paths: [fileURLToPath(new URL('../../actors/', import.meta.url))],
  });
  const code = `
    const { parentPort } = require('node:worker_threads');
    const sodium = require(${JSON.stringify(sodiumPath)});
    const key = Buffer.alloc(32, 7), pt = Buffer.alloc(32, 9), out = Buffer.alloc(32);
    parentPort.once('message', (k) => {
      for (let i = 0; i < 2000; i++) sodium.crypto_scalarmult(out, key, pt);
      const t = performance.now();
      for (let i = 0; i < k; i++) { pt[0] = i & 255; sodium.crypto_scalarmult(out, key, pt); }
      parentPort.postMessage(k / (performance.now() - t) * 1000);
    });`;
  const rates = await Promise.all(
    Array.from({ length: n }, () => {
      const w = new Worker(code, { eval: true });
      return new Promise<number>((resolve) => {
        w.once('message', (r: number) => {
          void w.terminate();
          resolve(r);
        });
        w.postMessage(perThread);
      });
    }),
  );
  return rates.reduce((a, b) => a + b, 0);
}
