import type { ActorDefinition } from '@troupe/core';

const revealed = new WeakMap<object, ReadonlySet<string>>();

/**
 * Let the inspector show the payloads of these message types sent to actors
 * of `definition` (in the dead-letter list). Nothing else ever shows a
 * payload: by default the page and its feed carry message *types* only.
 * Returns the definition, so it can wrap `defineActor(...)`.
 *
 * Opt in only for types whose every field is safe to show to whoever can
 * open the page: no keys, tokens, personal data or rows.
 *
 * @example
 * const Greeter = revealPayloads(defineActor<GreeterMsg, undefined>({ ... }), ['greet']);
 */
// biome-ignore lint/suspicious/noExplicitAny: any protocol
export function revealPayloads<D extends ActorDefinition<any, any, any>>(definition: D, types: readonly string[]): D {
  if (definition === null || typeof definition !== 'object') {
    throw new TypeError(`revealPayloads: expected an actor definition, got ${String(definition)}`);
  }
  if (!Array.isArray(types) || types.some((t) => typeof t !== 'string' || t.length === 0)) {
    throw new TypeError('revealPayloads: types must be an array of non-empty message type names');
  }
  revealed.set(definition, new Set(types));
  return definition;
}

/** The message types whose payloads `definition` reveals, if any. @internal */
export function revealedTypes(definition: object): ReadonlySet<string> | undefined {
  return revealed.get(definition);
}

/** A message's `type`, or what kind of value it is: the only part of a message shown by default. @internal */
export function messageType(message: unknown): string {
  if (message !== null && typeof message === 'object') {
    const type = (message as { type?: unknown }).type;
    if (typeof type === 'string') return type.length > 80 ? `${type.slice(0, 80)}…` : type;
    return Array.isArray(message) ? 'array' : 'object';
  }
  return message === null ? 'null' : typeof message;
}

/** A revealed payload as short JSON text (at most `max` characters). @internal */
export function payloadText(message: unknown, max = 300): string {
  let text: string;
  try {
    text = JSON.stringify(message, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(message);
  } catch {
    text = '[not serialisable]';
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
