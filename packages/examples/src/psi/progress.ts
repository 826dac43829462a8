/**
 * Progress of a PSI run for people. On a terminal: one line, redrawn in place,
 * never wider than the terminal (so it never wraps, and clearing it clears
 * it all), redrawn at once when the terminal is resized. Elsewhere (logs, CI):
 * a plain line every few seconds.
 *
 * The line shows the elapsed time, the stage (reading with an ETA from the
 * file sizes, masking and exchange with an ETA from the masking rate,
 * matching, writing) and one rate, keys/s: unique keys of both parties
 * masked per second, the same measure as the summary's.
 */
import type { PsiProgress, SideProgress } from '@troupe/actors';

const pct = (done: number, total: number) => (total <= 0 ? '–' : `${Math.min(100, Math.floor((done / total) * 100))}%`);

/** 1234567 → `1.23M`. */
export const compact = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0);

/** Seconds → `42s`, `3m05s`, `1h02m`. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Unique keys of both parties masked per second: the rate the summary reports too. */
export function keysPerSecond(p: PsiProgress): number {
  const secs = p.elapsedMs / 1000;
  // Every unique key is masked twice (by its owner, then by the peer): half the maskings is keys done.
  const masked = p.left.ownMasked + p.left.peerMasked + p.right.ownMasked + p.right.peerMasked;
  return secs > 0 ? masked / 2 / secs : 0;
}

/**
 * The parts of the progress line, most important first (a narrow terminal
 * keeps the first ones): elapsed, stage, ETA, rate, then details.
 *
 * The ETA is for the whole run. While the files are still being read, the
 * number of unique keys is estimated from the bytes read so far and the file
 * sizes; the work left is the maskings still to do at the current rate.
 */
export function progressParts(p: PsiProgress): string[] {
  const both = (f: (s: SideProgress) => number) => f(p.left) + f(p.right);
  const secs = p.elapsedMs / 1000;
  const elapsed = `psi ${duration(secs)}`;
  const rate = `${compact(keysPerSecond(p))} keys/s`;
  const readDone = p.left.readDone && p.right.readDone;
  const unique = both((s) => s.uniqueKeys);
  const masked = both((s) => s.ownMasked + s.peerMasked);
  const read = both((s) => s.bytesRead);
  const total = both((s) => s.bytesTotal);
  const estimated = readDone ? unique : read > 0 && total > 0 ? (unique * total) / read : 0;
  const perSec = secs > 0 ? masked / secs : 0;
  const eta =
    masked > 0 && perSec > 0 && estimated > 0
      ? `ETA ${duration(Math.max(0, 2 * estimated - masked) / perSec)}`
      : 'ETA ?';
  if (!readDone) {
    return [
      elapsed,
      `reading ${pct(read, total)}`,
      eta,
      rate,
      `masking ${pct(masked, 2 * estimated)}`,
      `${compact(both((s) => s.rows))} rows`,
    ];
  }
  const exchanged = both((s) => s.returned);
  if (exchanged < unique || masked < 2 * unique) {
    return [
      elapsed,
      `masking ${pct(masked, 2 * unique)}`,
      eta,
      rate,
      `exchange ${pct(exchanged, unique)}`,
      `${compact(unique)} keys`,
    ];
  }
  if (!(p.left.writing || p.left.done) || !(p.right.writing || p.right.done)) return [elapsed, 'matching', rate];
  if (!p.left.done || !p.right.done) return [elapsed, 'writing', rate];
  return [elapsed, 'done', rate];
}

/** One line describing `p`, at most `width` characters (fewer parts first, then cut). */
export function describeProgress(p: PsiProgress, width = Number.POSITIVE_INFINITY): string {
  const parts = progressParts(p);
  let line = parts.join(' | ');
  while (line.length > width && parts.length > 2) {
    parts.pop();
    line = parts.join(' | ');
  }
  return line.length > width ? line.slice(0, Math.max(0, width)) : line;
}

/** What the command writes besides the final summary: progress, warnings and errors, on stderr. */
export interface ProgressPrinter {
  onProgress(p: PsiProgress): void;
  /** A line of its own (a warning), without breaking the progress line. */
  line(text: string): void;
  /** Clear the progress line (before the summary, or an error). */
  done(): void;
}

/**
 * A progress sink for `runPsi({ onProgress })`.
 * @param show `false` for `--no-progress` / `--quiet` / `--json`: only {@link ProgressPrinter.line} prints.
 */
export function progressPrinter(stream: NodeJS.WriteStream, show = true, intervalMs = 2_000): ProgressPrinter {
  const tty = stream.isTTY === true;
  let last = -intervalMs;
  let current: PsiProgress | undefined;
  /** Characters of the line on screen (0: none). */
  let drawn = 0;
  let finished = false;
  const columns = () => Math.max(10, stream.columns || 80);
  const clear = () => {
    if (drawn === 0) return;
    // After a resize to fewer columns, terminals that reflow (tmux, VTE, iTerm2...) wrap the
    // line on screen over several rows, the cursor on the last: clear each of them.
    const rows = Math.max(1, Math.ceil(drawn / columns()));
    stream.write(`\r\x1b[2K${'\x1b[1A\x1b[2K'.repeat(rows - 1)}`);
    drawn = 0;
  };
  const draw = () => {
    if (current === undefined || finished) return;
    // One column short of the width: writing the last column would wrap on some terminals.
    const line = describeProgress(current, columns() - 1);
    clear();
    stream.write(`\r${line}`);
    drawn = line.length;
  };
  const onResize = () => {
    clear();
    draw();
  };
  if (tty && show) stream.on('resize', onResize);
  return {
    onProgress(p) {
      if (!show || finished) return;
      current = p;
      if (tty) {
        draw();
        return;
      }
      if (p.elapsedMs - last >= intervalMs) {
        last = p.elapsedMs;
        stream.write(`${describeProgress(p)}\n`);
      }
    },
    line(text) {
      if (tty) clear();
      stream.write(`${text}\n`);
      if (tty) draw();
    },
    done() {
      if (finished) return;
      finished = true;
      if (tty) {
        clear();
        stream.off('resize', onResize);
      }
    },
  };
}
