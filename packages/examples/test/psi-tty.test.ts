/**
 * The progress display on a real terminal (tmux): it fits the width, follows
 * a resize, leaves no stale rows, shows the elapsed time, an ETA and one rate
 * that agrees with the summary (issue 14, item 6). tmux is installed by
 * .ci/run; without it (a machine set up by hand) these tests are skipped, and
 * say so.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { psiMain, repoRoot } from './helpers/psi.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
if (!hasTmux) console.warn('psi-tty tests skipped: tmux is not installed (apt-get install tmux; .ci/run does)');

/** A detached tmux server of our own (its own socket), with one window running `command`. */
class Terminal {
  private readonly socket = `troupe-psi-${process.pid}-${Math.random().toString(36).slice(2)}`;
  constructor(command: string, width: number) {
    this.tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'psi', '-x', String(width), '-y', '40', command);
    // Keep the pane (and what it shows) after the command exits.
    this.tmux('set-option', '-t', 'psi', 'remain-on-exit', 'on');
  }
  tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' });
  }
  /** The screen and its scrollback, one row per line, trailing blanks dropped. */
  screen(): string[] {
    return this.tmux('capture-pane', '-p', '-t', 'psi', '-S', '-')
      .split('\n')
      .map((l) => l.trimEnd())
      .filter((l) => l !== '');
  }
  resize(width: number): void {
    this.tmux('resize-window', '-t', 'psi', '-x', String(width));
  }
  get exited(): boolean {
    return this.tmux('display-message', '-p', '-t', 'psi', '#{pane_dead}').trim() === '1';
  }
  async waitFor(pred: (rows: string[]) => boolean, ms = 120_000): Promise<string[]> {
    const t0 = Date.now();
    for (;;) {
      const rows = this.screen();
      if (pred(rows)) return rows;
      if (Date.now() - t0 > ms) throw new Error(`terminal never matched within ${ms} ms:\n${rows.join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  close(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // Already gone.
    }
    // tmux leaves its socket file behind.
    const uid = process.getuid?.() ?? 0;
    rmSync(join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${uid}`, this.socket), { force: true });
  }
}

const progressRow = /^psi \d+(s|m\d\ds) \| /;
const demo = (rows: number) =>
  `cd ${repoRoot} && node --conditions=source --import tsx ${psiMain} demo --rows ${rows} --threads 2; echo EXIT=$?`;

describe.skipIf(!hasTmux)('psi progress on a terminal', { timeout: 240_000 }, () => {
  it('keeps the line within 80 columns, shows elapsed time, ETA and keys/s, and leaves no stale rows', async () => {
    const term = new Terminal(demo(60_000), 80);
    try {
      const during = await term.waitFor((rows) => rows.some((r) => progressRow.test(r) && /ETA \d/.test(r)));
      const shown = during.filter((r) => progressRow.test(r));
      expect(shown).toHaveLength(1);
      expect(shown[0]?.length).toBeLessThan(80);
      expect(shown[0]).toMatch(/^psi \d+s \| (reading|masking) \d+% \| ETA \d+s \| [\d.]+k? keys\/s/);
      const after = await term.waitFor((rows) => rows.some((r) => r.startsWith('EXIT=')));
      expect(after).toContain('EXIT=0');
      // Every progress row was cleared: none is left above or among the summary.
      expect(after.filter((r) => progressRow.test(r) || /keys\/s/.test(r))).toEqual([
        expect.stringMatching(/^ {2}time: [\d.]+ s, [\d,]+ keys\/s$/),
      ]);
      expect(after.join('\n')).toMatch(/check against a plain set intersection: OK/);
    } finally {
      term.close();
    }
  });

  it('follows a resize to a narrower terminal: the line is redrawn to fit, and no row of the old one is left', async () => {
    const term = new Terminal(demo(60_000), 100);
    try {
      await term.waitFor((rows) => rows.some((r) => progressRow.test(r) && r.length > 50));
      term.resize(50);
      // The next redraws fit the new width; the old, longer line (rewrapped by tmux) is gone.
      const narrow = await term.waitFor((rows) => {
        const last = rows[rows.length - 1] ?? '';
        return progressRow.test(last) && last.length < 50 && /keys\/s/.test(last);
      });
      const last = narrow[narrow.length - 1] as string;
      // What remains of the progress on screen is exactly that one row: no part of the old,
      // rewrapped line is left above it (every progress part is separated by ' | ').
      expect(narrow.filter((r) => r.includes(' | '))).toEqual([last]);
      const after = await term.waitFor((rows) => rows.some((r) => r.startsWith('EXIT=')));
      expect(after).toContain('EXIT=0');
      expect(after.filter((r) => progressRow.test(r))).toEqual([]);
    } finally {
      term.close();
    }
  });
});
