/**
 * Checking and encoding messages that cross a thread.
 *
 * `postMessage` would throw on a function only when the batch is posted (too
 * late to tell the sender) and would silently strip a class instance of its
 * prototype. So every message bound for another thread is walked once at the
 * sender: functions, symbols and class instances are refused there with a
 * named error, ActorRefs are swapped for {@link WireRef} markers that the
 * other side turns back into working refs, and errors for {@link WireError}
 * markers that come back as instances of their (registered) class.
 *
 * @internal
 */
import type { ActorRef } from '../ActorRef.js';
import { deserializeError, serializeError } from '../errors.js';
import type { WireError, WireRef } from './wire.js';

/** Brand carried by every ref implementation, so the codec can spot refs without importing them. */
export const REF_BRAND: unique symbol = Symbol.for('troupe.actorRef') as never;

/** Thrown by {@link encode}; the caller wraps it in `UnserializableMessageError`. */
export class DataCloneError extends Error {
  override name = 'DataCloneError';
}

const plainProtos = new Set<unknown>([Object.prototype, null]);
// Built-ins that structured clone handles faithfully.
const cloneable: Function[] = [
  Date,
  RegExp,
  Map,
  Set,
  ArrayBuffer,
  Boolean,
  String,
  Number,
  ...(typeof SharedArrayBuffer === 'function' ? [SharedArrayBuffer] : []),
];

/**
 * Encodes messages for one runtime: `toWire` names that runtime's refs, and
 * `swapped` tells whether the last {@link Encoder.encode} replaced anything
 * (then the receiver must decode the value).
 */
export class Encoder {
  /** Whether the last `encode` swapped a ref for a marker. */
  swapped = false;
  // biome-ignore lint/suspicious/noExplicitAny: any ref
  constructor(readonly toWire: (ref: ActorRef<any>) => WireRef) {}

  /**
   * Check that `value` can cross a thread, replacing refs with markers.
   * Returns `value` itself when it holds no ref (the common case: no copy).
   * Throws {@link DataCloneError} naming where the problem is.
   */
  encode(value: unknown): unknown {
    this.swapped = false;
    try {
      return walk(value, this, 0);
    } catch (e) {
      if (e instanceof CloneFault) throw new DataCloneError(`$${e.path} ${e.what}`);
      throw e;
    }
  }
}

/**
 * Thrown inside {@link walk} and caught by {@link encode}: where the problem is
 * (built on the way back up, so a message that is fine never pays for a path
 * string) and what it is.
 */
class CloneFault {
  constructor(
    public path: string,
    readonly what: string,
  ) {}
}

/** Prefix a fault thrown below with the step that led to it. */
function under(fault: unknown, step: string): unknown {
  if (fault instanceof CloneFault) fault.path = step + fault.path;
  return fault;
}

function walk(value: unknown, enc: Encoder, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
    case 'bigint':
      return value;
    case 'function':
      throw new CloneFault(
        '',
        `is a function (${(value as Function).name || 'anonymous'}); functions cannot be cloned`,
      );
    case 'symbol':
      throw new CloneFault('', 'is a symbol; symbols cannot be cloned');
  }
  if (value === null || depth > 64) return value;
  const obj = value as Record<string | symbol, unknown>;
  if (obj[REF_BRAND] === true) {
    enc.swapped = true;
    // biome-ignore lint/suspicious/noExplicitAny: any ref
    return enc.toWire(obj as unknown as ActorRef<any>);
  }
  if (Array.isArray(obj)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < obj.length; i++) {
      const v = obj[i];
      let w: unknown;
      try {
        w = walk(v, enc, depth + 1);
      } catch (e) {
        throw under(e, `[${i}]`);
      }
      if (w !== v) {
        copy ??= obj.slice();
        copy[i] = w;
      }
    }
    return copy ?? obj;
  }
  const proto = Object.getPrototypeOf(obj);
  if (plainProtos.has(proto)) {
    let copy: Record<string, unknown> | undefined;
    for (const k in obj) {
      const v = obj[k];
      let w: unknown;
      try {
        w = walk(v, enc, depth + 1);
      } catch (e) {
        throw under(e, `.${k}`);
      }
      if (w !== v) {
        copy ??= { ...obj };
        copy[k] = w;
      }
    }
    return copy ?? obj;
  }
  if (ArrayBuffer.isView(obj)) return obj;
  if (obj instanceof Error) {
    // Structured clone would keep only name, message, stack and cause: travel as a marker that keeps the class.
    enc.swapped = true;
    const marker: WireError = { $troupeError: serializeError(obj) };
    return marker;
  }
  for (const ctor of cloneable) {
    if (obj instanceof ctor) {
      if (obj instanceof Map) {
        for (const [k, v] of obj) {
          try {
            walk(k, enc, depth + 1);
          } catch (e) {
            throw under(e, '<key>');
          }
          let w: unknown;
          try {
            w = walk(v, enc, depth + 1);
          } catch (e) {
            throw under(e, `.get(${String(k)})`);
          }
          if (w !== v) {
            throw new CloneFault('', 'is a Map holding an ActorRef or an Error; put those in plain objects or arrays');
          }
        }
      } else if (obj instanceof Set) {
        for (const v of obj) {
          let w: unknown;
          try {
            w = walk(v, enc, depth + 1);
          } catch (e) {
            throw under(e, '<item>');
          }
          if (w !== v) {
            throw new CloneFault('', 'is a Set holding an ActorRef or an Error; put those in plain objects or arrays');
          }
        }
      }
      return obj;
    }
  }
  const name = (proto?.constructor as Function | undefined)?.name ?? 'unknown';
  throw new CloneFault(
    '',
    `is an instance of class ${name}; class instances lose their prototype when cloned. Send plain data instead`,
  );
}

/** Is `value` a ref marker? */
export function isWireRef(value: unknown): value is WireRef {
  return value !== null && typeof value === 'object' && '$troupeRef' in (value as object);
}

/** Turn ref and error markers back into refs and errors (in place where possible: the value is a fresh clone). */
// biome-ignore lint/suspicious/noExplicitAny: any ref
export function decode(value: unknown, fromWire: (w: WireRef) => ActorRef<any>, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > 64) return value;
  if (isWireRef(value)) return fromWire(value);
  if ('$troupeError' in value) return deserializeError((value as WireError).$troupeError);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = decode(value[i], fromWire, depth + 1);
    return value;
  }
  if (Object.getPrototypeOf(value) === Object.prototype) {
    const obj = value as Record<string, unknown>;
    for (const k in obj) obj[k] = decode(obj[k], fromWire, depth + 1);
  }
  return value;
}
