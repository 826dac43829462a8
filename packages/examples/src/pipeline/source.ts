/**
 * The pipeline's input: deterministic sensor lines, with a few malformed ones
 * and a few from sensors nobody registered, so that every stage has something
 * to reject.
 */

/** Every this-many lines, one is malformed. */
export const MALFORMED_EVERY = 499;
/** Every this-many lines, one comes from an unregistered sensor. */
export const UNKNOWN_SENSOR_EVERY = 997;

const broken = ['1700000000000,s-3,21.5', '1700000000000,s-3,warm,C', 'not a reading', '1700000000000,s-3,21.5,K', ''];

/** Line number `i` (0-based) of the input. */
export function makeLine(i: number): string {
  if (i % MALFORMED_EVERY === MALFORMED_EVERY - 1) return broken[i % broken.length] as string;
  const ts = 1_700_000_000_000 + i;
  const sensor = i % UNKNOWN_SENSOR_EVERY === UNKNOWN_SENSOR_EVERY - 1 ? 's-unknown' : `s-${(i * 7) % 40}`;
  const celsius = 15 + ((i * 37) % 130) / 10; // 15.0 .. 27.9
  return i % 3 === 0
    ? `${ts},${sensor},${((celsius * 9) / 5 + 32).toFixed(2)},F`
    : `${ts},${sensor},${celsius.toFixed(1)},C`;
}
