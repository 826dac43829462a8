/**
 * Progress of a PSI run for people: on a TTY one line redrawn in place, per
 * stage (masking, exchange, matching, writing) with items/s and an ETA;
 * otherwise a plain line every few seconds (logs, CI).
 */
import type { PsiProgress, SideProgress } from '@troupe/actors';

const pct = (done: number, total: number) =>
  total <= 0
    ? '  –'
    : `${Math.min(100, Math.floor((done / total) * 100))
        .toString()
        .padStart(3)}%`;
const rate = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0);

/** One line describing `p`. */
export function describeProgress(p: PsiProgress): string {
  const both = (f: (s: SideProgress) => number) => f(p.left) + f(p.right);
  const unique = both((s) => s.uniqueKeys);
  const readDone = p.left.readDone && p.right.readDone;
  // Every unique key is masked twice: once by its owner, once by the peer.
  const masked = both((s) => s.ownMasked + s.peerMasked);
  const returned = both((s) => s.returned);
  const secs = p.elapsedMs / 1000;
  const perSec = secs > 0 ? masked / secs : 0;
  const remaining = readDone ? 2 * unique - masked : undefined;
  const eta = remaining !== undefined && perSec > 0 ? `${Math.ceil(remaining / perSec)}s` : '?';
  const matching = p.left.matchedRows + p.right.matchedRows > 0 || p.left.done ? 'done' : '  –';
  const written = both((s) => s.writtenRows);
  return (
    `reading ${readDone ? 'done' : `${rate(both((s) => s.rows))} rows`} | ` +
    `masking ${readDone ? pct(masked, 2 * unique) : rate(masked)} | exchange ${readDone ? pct(returned, unique) : rate(returned)} | ` +
    `matching ${matching} | writing ${written > 0 ? rate(written) : '  –'} | ${rate(perSec)} items/s | ETA ${eta}`
  );
}

/** A progress sink for `runPsi({ onProgress })`, and `done()` to clear the line. */
export function progressPrinter(
  stream: NodeJS.WriteStream,
  intervalMs = 2_000,
): { onProgress: (p: PsiProgress) => void; done: () => void } {
  const tty = stream.isTTY === true;
  let last = 0;
  return {
    onProgress(p) {
      if (tty) {
        stream.write(`\r\x1b[2K${describeProgress(p)}`);
        return;
      }
      if (p.elapsedMs - last >= intervalMs) {
        last = p.elapsedMs;
        stream.write(`[${(p.elapsedMs / 1000).toFixed(1)}s] ${describeProgress(p)}\n`);
      }
    },
    done() {
      if (tty) stream.write('\r\x1b[2K');
    },
  };
}
