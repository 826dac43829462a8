/** Small formatting helpers for the examples' summaries. */

/** `12345` → `12,345`. */
export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Milliseconds with one decimal: `12.3 ms`. */
export function ms(n: number): string {
  return `${n.toFixed(1)} ms`;
}

/** Bytes as megabytes: `18.2 MB`. */
export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** The `q`-quantile (0..1) of `values` (sorted here); 0 for an empty list. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] as number;
}

/** A two-column block: labels padded to the widest one. */
export function table(rows: readonly (readonly [string, string])[], indent = '  '): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${indent}${label.padEnd(width)}  ${value}`).join('\n');
}
