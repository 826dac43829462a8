/**
 * Small formatting helpers for error messages (core has its own, but they are
 * not part of its public API).
 * @internal
 */

/** The `type` of a message, or a description for non-messages. */
export function typeOf(message: unknown): string {
  const type = (message as { type?: unknown } | null | undefined)?.type;
  return typeof type === 'string' ? type : message === null ? 'null' : typeof message;
}

/** A short description of any value, for error messages. */
export function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
