/** Checks of option values shared by the join, transport and cluster options: each throws a `TypeError` naming the option. */

/** The longest delay a Node timer takes: past it, `setTimeout` fires after 1 ms instead (with a warning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration option, within what a Node timer can wait. @internal */
export function ms(name: string, value: unknown, fallback: number, min = 1): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > MAX_TIMER_MS)
    throw new TypeError(
      `${name} must be a number of milliseconds from ${min} to ${MAX_TIMER_MS} (the longest a Node timer waits), got ${String(value)}`,
    );
  return v;
}

/**
 * Refuse a key not in `known`: a misspelt option would otherwise be ignored and
 * its default used. Names the closest known key when there is one. @internal
 */
export function checkKeys(options: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = known.find((k) => editDistance(k.toLowerCase(), key.toLowerCase()) <= 2 || k.startsWith(key));
    throw new TypeError(
      `${where}: unknown option '${key}'${near === undefined ? '' : ` (did you mean '${near}'?)`}; the options are ${known.join(', ')}`,
    );
  }
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length] as number;
}
