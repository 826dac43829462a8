/**
 * Sample data for PSI: two CSV files with realistic columns (quoted fields with
 * commas and quotes, unicode names), a chosen overlap of keys, and some
 * duplicate keys. Deterministic for a seed. Also computes the expected result
 * with a plain set intersection, to check a PSI run against.
 */

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

export interface GenerateOptions {
  rows: number;
  /** Fraction of each side's unique keys that the other side also has. */
  overlap: number;
  /** Fraction of rows that repeat an earlier key of the same file. */
  duplicates: number;
  seed: number;
  /** Stop generating (the promise rejects with the signal's reason; partial files are the caller's to remove). */
  signal?: AbortSignal;
}

export interface Expected {
  /** Rows of each side whose key is in the intersection, as written (sorted by key, file order within a key). */
  left: string[];
  right: string[];
  intersection: number;
  leftUnique: number;
  rightUnique: number;
}

const first = [
  'Ana',
  'Bjørn',
  'Chloé',
  'Dmitri',
  'Eun-ji',
  'Farah',
  'Giulia',
  'Hiro',
  'Işıl',
  'José',
  'Kwame',
  'Léa',
  'Mei',
  'Nikos',
  'Olu',
  'Priya',
];
const last = ['Smith', "O'Neil", 'García', 'Müller', 'Nakamura', 'Kowalski', 'Haddad', 'Ivanova', 'Nguyen', 'Dubois'];
const cities = [
  'Zürich',
  'São Paulo',
  'Washington, D.C.',
  'Kraków',
  'Québec',
  'Seoul',
  'Lagos',
  'Athens',
  'Lima',
  'Oslo',
];

/** A small, fast, seeded generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function field(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** Write `left.csv` and `right.csv` into `dir`; returns the expected PSI result (if `keepExpected`). */
export async function generatePsiData(dir: string, o: GenerateOptions, keepExpected = true): Promise<Expected> {
  const random = rng(o.seed);
  const uniquePerSide = Math.max(1, Math.round(o.rows * (1 - o.duplicates)));
  const shared = Math.round(uniquePerSide * o.overlap);
  // Keys by index (shared ones first), so a 50M-row side needs a 200 MB permutation, not 50M strings.
  const keyOf = (side: string, i: number): string =>
    i < shared
      ? `cust-${i.toString(36).padStart(6, '0')}@example.com`
      : `${side}-${(i - shared).toString(36).padStart(6, '0')}@example.org`;
  const keySet = (side: string): Set<string> => {
    const set = new Set<string>();
    for (let i = 0; i < uniquePerSide; i++) set.add(keyOf(side, i));
    return set;
  };
  // The expected result needs the other side's keys; a run that does not ask for it keeps none.
  const rightKeySet = keepExpected ? keySet('right') : new Set<string>();
  const leftKeySet = keepExpected ? keySet('left') : new Set<string>();
  const write = async (
    side: 'left' | 'right',
    other: Set<string>,
  ): Promise<{ matched: { key: string; line: string; n: number }[]; unique: number }> => {
    const order = new Uint32Array(uniquePerSide);
    for (let i = 0; i < order.length; i++) order[i] = i;
    // Shuffle so files are not sorted.
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const t = order[i] as number;
      order[i] = order[j] as number;
      order[j] = t;
    }
    const out = createWriteStream(`${dir}/${side}.csv`);
    const matched: { key: string; line: string; n: number }[] = [];
    let buf = 'email,first_name,last_name,city,amount,note\n';
    for (let n = 0; n < o.rows; n++) {
      const key = keyOf(
        side,
        n < order.length ? (order[n] as number) : (order[Math.floor(random() * order.length)] as number),
      );
      const f = first[Math.floor(random() * first.length)] as string;
      const l = last[Math.floor(random() * last.length)] as string;
      const city = cities[Math.floor(random() * cities.length)] as string;
      const amount = (random() * 10_000).toFixed(2);
      const note = random() < 0.1 ? `said "hi", twice` : '';
      const line = [key, f, l, city, amount, note].map(field).join(',');
      buf += `${line}\n`;
      if (keepExpected && other.has(key)) matched.push({ key, line, n });
      if (buf.length > 1 << 16) {
        if (o.signal?.aborted) {
          out.destroy();
          o.signal.throwIfAborted();
        }
        if (!out.write(buf)) await once(out, 'drain');
        buf = '';
      }
    }
    out.end(buf);
    await once(out, 'finish');
    matched.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.n - b.n));
    return { matched, unique: order.length };
  };
  const l = await write('left', rightKeySet);
  const r = await write('right', leftKeySet);
  return {
    left: l.matched.map((m) => m.line),
    right: r.matched.map((m) => m.line),
    intersection: shared,
    leftUnique: l.unique,
    rightUnique: r.unique,
  };
}
