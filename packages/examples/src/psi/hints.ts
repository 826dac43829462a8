/**
 * Hints for the commonest input mistake: the wrong delimiter. A `;` or tab
 * separated file read with `,` has a one-column header, so the error (a
 * missing key column, a ragged row) names a symptom; the hint names the cause.
 */
import { open } from 'node:fs/promises';

const CANDIDATES: readonly [string, string][] = [
  [',', ','],
  [';', ';'],
  ['\t', "'\\t'"],
  ['|', '|'],
];

/** The first line of `file` (at most 64 KiB of it), or undefined if it cannot be read. */
async function firstLine(file: string): Promise<string | undefined> {
  try {
    const handle = await open(file, 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      const text = buf.subarray(0, bytesRead).toString('utf8');
      const end = text.search(/\r?\n/);
      return end === -1 ? text : text.slice(0, end);
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
}

/**
 * A hint when `file`'s header looks separated by another delimiter than
 * `delimiter`, else undefined. Example: `the header of b.csv has 1 field with
 * --delimiter ','; it has 3 ';': if the file is ';'-separated, pass --delimiter ';'`.
 */
export async function delimiterHint(file: string, delimiter: string): Promise<string | undefined> {
  const header = await firstLine(file);
  if (header === undefined) return undefined;
  if (header.split(delimiter).length > 1) return undefined;
  let best: [string, string, number] | undefined;
  for (const [c, shown] of CANDIDATES) {
    if (c === delimiter) continue;
    const n = header.split(c).length - 1;
    if (n > 0 && (best === undefined || n > best[2])) best = [c, shown, n];
  }
  if (best === undefined) return undefined;
  const [, shown, n] = best;
  const current = CANDIDATES.find(([c]) => c === delimiter)?.[1] ?? delimiter;
  return (
    `the header of ${file} is one field with --delimiter ${current === ',' ? "','" : current}, ` +
    `but it has ${n} × ${shown}: if the file is ${shown}-separated, pass --delimiter ${shown === ';' || shown === '|' ? `'${shown}'` : shown}`
  );
}
