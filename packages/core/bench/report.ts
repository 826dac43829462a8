import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

/** One measured series: several runs of one contender in one case. */
export interface Series {
  /** Case id, e.g. `tell`. */
  case: string;
  contender: string;
  /** `msg/s`, `asks/s`, `spawns/s` or `B/actor`. */
  unit: string;
  /** Higher is better for rates, lower for bytes. */
  values: number[];
  /** Set when a run did not do what it should (e.g. a message went missing): the numbers are then void. */
  invalid?: string;
}

export interface Summary {
  median: number;
  min: number;
  max: number;
}

export function summarize(values: readonly number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  const mid = Math.floor(n / 2);
  const median = n % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { median, min: s[0] as number, max: s[n - 1] as number };
}

/** `3.91 M`, `412 k`, `812`: three significant digits. */
export function human(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const [v, suffix] = x >= 1e6 ? [x / 1e6, ' M'] : x >= 1e4 ? [x / 1e3, ' k'] : [x, ''];
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)}${suffix}`;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  v8: string;
  date: string;
  /** 1-minute load average at the start: a busy machine makes every number lower and noisier. */
  load: number;
}

export function machine(): Machine {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: totalmem() / 2 ** 30,
    node: process.version,
    v8: process.versions.v8,
    date: new Date().toISOString(),
    load: loadavg()[0] ?? 0,
  };
}

/** A target from the issue, checked against medians. */
export interface Target {
  label: string;
  /** What was measured, as shown (e.g. `0.62×`). */
  measured: string;
  /** `undefined` for a row shown for context only. */
  reached: boolean | undefined;
}

export function seriesTable(series: readonly Series[]): string[] {
  const rows = ['| Case | Contender | Median | Min – max | Unit | Runs |', '|---|---|--:|--:|---|--:|'];
  for (const s of series) {
    const { median, min, max } = summarize(s.values);
    const note = s.invalid !== undefined ? ` ⚠ ${s.invalid}` : '';
    rows.push(
      `| ${s.case} | ${s.contender}${note} | ${human(median)} | ${human(min)} – ${human(max)} | ${s.unit} | ${s.values.length} |`,
    );
  }
  return rows;
}

export function targetTable(targets: readonly Target[]): string[] {
  const rows = ['| Target | Measured (medians) | Reached |', '|---|--:|:-:|'];
  for (const t of targets)
    rows.push(`| ${t.label} | ${t.measured} | ${t.reached === undefined ? '–' : t.reached ? 'yes' : '**no**'} |`);
  return rows;
}

/**
 * Replace the text between `<!-- name:begin -->` and `<!-- name:end -->` in
 * `file` (creating the file, or appending the section, if needed), so each
 * suite owns one section and leaves the others alone.
 */
export function writeSection(file: string, name: string, body: string): void {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${begin}\n${body.trimEnd()}\n${end}`;
  const header =
    '# Benchmarks\n\nEach suite rewrites only its own section (between its `begin`/`end` markers).\n' +
    'Numbers come from one machine and one run; compare ratios, not absolute rates, across machines.\n';
  let text = existsSync(file) ? readFileSync(file, 'utf8') : header;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i >= 0 && j > i) text = text.slice(0, i) + block + text.slice(j + end.length);
  else text = `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
}
