/**
 * The codec of a batch's payload: a compact tagged format for plain data,
 * `node:v8` serialisation for everything else.
 *
 * Most batches a link carries are small frames of plain data (`[op, handle,
 * { type, n }, replyId, ...]`), and for those `node:v8` costs more than the
 * rest of an ask: about 0.5 µs per frame to deserialise on the machines of
 * BENCHMARKS.md, mostly creating and internalising the same property names and
 * values again for every frame. The packed format writes a short string
 * repeated in a batch (a key, a message type) once and then as a one-byte
 * cache slot, small integers in one byte, a flat object's keys once per
 * shape (then only its values), and keeps structured clone's
 * semantics for what it accepts: `undefined`, `null`, booleans, every number
 * (-0, NaN and the infinities exactly), strings (lone surrogates included),
 * dense arrays, plain objects (own enumerable string keys; a null-prototype
 * object arrives as a plain one, as with structured clone), and shared and
 * cyclic references within a message (see {@link Writer.container} for
 * between messages).
 *
 * Anything else anywhere in the batch (typed arrays, Buffers, Maps, Sets,
 * Dates, RegExps, BigInts, class instances, Proxies, holes, arrays with named
 * properties, arrays longer than {@link MAX_PACKED_ARRAY} inside a message,
 * nesting deeper than {@link MAX_DEPTH}) makes the whole batch go as
 * `node:v8` instead, which also throws for what cannot be cloned at all, and
 * is the faster of the two for bulk data anyway.
 * The first payload byte tells the two apart (`node:v8` output starts with
 * 0xFF, a packed batch with {@link PACKED}).
 *
 * Nothing read is trusted: {@link unpack} checks every length and tag against
 * the bytes it has, and throws a `RangeError` naming the offset where the
 * payload stops making sense.
 */
import { types } from 'node:util';
import { DefaultSerializer, deserialize } from 'node:v8';

/**
 * Buffer's own string methods without the argument checks of `write` and
 * `toString` (undocumented, present in every Node release; the checks cost
 * more than a short string's copy).
 */
interface RawBuffer extends Buffer {
  utf8Write(s: string, offset: number): number;
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

/** First payload byte of a packed batch. */
export const PACKED = 0x01;
/** First payload byte of a `node:v8` batch (its version tag). */
const V8_TAG = 0xff;

/** Deepest nesting packed (the batch array is depth 0); deeper goes as `node:v8`. */
export const MAX_DEPTH = 128;
/**
 * Strings up to this length go through a small cache both sides keep in step
 * (one string per slot, the slot a hash of the string), so a key or a message
 * type repeated frame after frame is written once and then as its slot.
 */
const TABLED = 64;
const SLOTS = 64;
/** Bytes of the writer's scratch buffer (it grows for a larger batch, which then keeps it). */
const SCRATCH = 64 * 1024;

/** Arrays inside messages up to this length are checked for named properties and packed; longer ones go as `node:v8`. */
export const MAX_PACKED_ARRAY = 64;

/**
 * Flat objects (every value a primitive) with 1 to {@link MAX_SHAPE_KEYS} keys
 * are written by shape: the keys once per batch, then only the values, and
 * read back by a constructor made once per shape (see {@link shapeOf}).
 * {@link SHAPE_SLOTS} shapes are kept per batch, both sides in step (the
 * writer names the slot).
 */
export const MAX_SHAPE_KEYS = 16;
const SHAPE_SLOTS = 16;

/** The cache slot of a short string (0 for the empty string): the same function on both sides. */
function slotOf(s: string): number {
  const n = s.length;
  if (n === 0) return 0;
  return (n * 7 + s.charCodeAt(0) * 31 + s.charCodeAt(n - 1)) & (SLOTS - 1);
}

const Tag = {
  Undefined: 0,
  Null: 1,
  False: 2,
  True: 3,
  /** zigzag varint: an int32 other than -0 */
  Int: 4,
  /** 8 bytes, little-endian float64 */
  Float: 5,
  /** a new short string (cached): u8 length, then its bytes (all < 0x80) */
  Ascii: 6,
  /** a new short string (cached): u8 length, then UTF-8 bytes */
  Utf8: 7,
  /** a long string (not cached): u32 length, then its bytes (ASCII) */
  LongAscii: 8,
  /** a long string (not cached): u32 length, then UTF-8 bytes */
  LongUtf8: 9,
  /** a string with a lone surrogate (cached if short): u32 count, then UTF-16LE code units */
  Utf16: 10,
  /** u8: the cache slot of a string written earlier in this batch */
  StringRef: 11,
  /** varint length, then the elements */
  Array: 12,
  /** (key, value) pairs, keys as string values, then End */
  Object: 13,
  End: 14,
  /** varint: id of an array or object met earlier in this batch (ids count up from 0 in order of appearance) */
  Ref: 15,
  /**
   * a flat object (every value a primitive) of a new shape: u8 shape slot, u8 key count, the keys as
   * string values, then the values in key order
   */
  Shape: 16,
  /** a flat object of a shape given earlier in this batch: u8 shape slot, then the values in key order */
  Shaped: 17,
  /** 0x80 | n: the integer n, 0..127 */
  Small: 0x80,
} as const;

/** Thrown inside the packer: this batch goes as `node:v8`. */
const FALLBACK: unique symbol = Symbol('fallback');

/** `value` serialised with `node:v8` after `template` (copied into the result's first bytes). Throws what v8 throws. */
function serializeAfter(template: Uint8Array, value: unknown): Buffer {
  const ser = new DefaultSerializer();
  ser.writeRawBytes(template);
  ser.writeHeader();
  ser.writeValue(value);
  return ser.releaseBuffer();
}

/**
 * `batch` after a copy of `template`: packed when everything in it is plain
 * data, else `node:v8` (which throws what it throws for the uncloneable).
 */
export function packAfter(template: Uint8Array, batch: readonly unknown[]): Buffer {
  const w = writer;
  if (w.busy) return serializeAfter(template, batch); // a getter in a message sent a batch from inside this one
  w.busy = true;
  try {
    w.begin(template);
    w.byte(PACKED);
    w.array(batch, 0, true);
    return w.finish();
  } catch (e) {
    if (e !== FALLBACK) throw e;
    return serializeAfter(template, batch);
  } finally {
    w.reset();
  }
}

/** Decode a payload written by {@link packAfter} (either format). Throws on bytes that are neither. */
export function unpack(payload: Uint8Array): unknown {
  if (payload.length === 0) throw new RangeError('empty payload');
  if (payload[0] === V8_TAG) return deserialize(payload);
  if (payload[0] !== PACKED) {
    throw new RangeError(`payload starts with byte 0x${(payload[0] as number).toString(16)}, neither packed nor v8`);
  }
  const r = new Reader(payload);
  const value = r.value(0);
  if (r.pos !== payload.length) throw new RangeError(`${payload.length - r.pos} bytes left over at byte ${r.pos}`);
  return value;
}

// ---------------------------------------------------------------- writing

class Writer {
  buf = Buffer.allocUnsafe(SCRATCH) as RawBuffer;
  pos = 0;
  busy = false;
  /** The string in each cache slot ({@link slotOf}). */
  private readonly slots: (string | undefined)[] = new Array(SLOTS).fill(undefined);
  /** The keys of the shape in each shape slot (see {@link Writer.shaped}). */
  private readonly shapes: (string[] | undefined)[] = new Array(SHAPE_SLOTS).fill(undefined);
  /** An object's keys and values, each read once (see {@link Writer.object}). */
  private readonly keys: string[] = new Array(MAX_SHAPE_KEYS).fill('');
  private readonly vals: unknown[] = new Array(MAX_SHAPE_KEYS).fill(undefined);
  /** Object.prototype has no enumerable property (so for-in gives own keys only); set per batch. */
  private inheritsNothing = true;
  /** Arrays and objects below the frame level, by id (see {@link Writer.container}). */
  private readonly objects = new Map<object, number>();
  private nextId = 0;
  /** The frame-level container being written, and its id once something below it needed one (-1 until then). */
  private frameObj: object | undefined = undefined;
  private frameId = -1;
  /** The last frame-level container that got an id: a ref marker repeated frame after frame is written once. */
  private lastFrame: object | undefined = undefined;
  private lastFrameId = -1;

  begin(template: Uint8Array): void {
    this.inheritsNothing = true;
    for (const _ in Object.prototype) this.inheritsNothing = false;
    this.pos = 0;
    this.room(template.length);
    this.buf.set(template, 0);
    this.pos = template.length;
  }

  /** The bytes written: a copy when small, else the scratch buffer itself (a new one is made for the next batch). */
  finish(): Buffer {
    if (this.pos > SCRATCH / 2) {
      const out = this.buf.subarray(0, this.pos);
      this.buf = Buffer.allocUnsafe(SCRATCH) as RawBuffer;
      return out;
    }
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }

  reset(): void {
    this.slots.fill(undefined);
    this.shapes.fill(undefined);
    // Do not keep what the batch held alive (nor a huge scratch after one huge object).
    if (this.keys.length > MAX_SHAPE_KEYS) {
      this.keys.length = MAX_SHAPE_KEYS;
      this.vals.length = MAX_SHAPE_KEYS;
    }
    this.keys.fill('');
    this.vals.fill(undefined);
    this.objects.clear();
    this.nextId = 0;
    this.frameObj = undefined;
    this.frameId = -1;
    this.lastFrame = undefined;
    this.lastFrameId = -1;
    this.busy = false;
    // Do not keep a huge scratch buffer alive after one big batch that fell back to v8.
    if (this.buf.length > SCRATCH) this.buf = Buffer.allocUnsafe(SCRATCH) as RawBuffer;
  }

  /** Make room for `n` more bytes. */
  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const bigger = Buffer.allocUnsafe(size) as RawBuffer;
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  byte(b: number): void {
    if (this.pos >= this.buf.length) this.room(1);
    this.buf[this.pos++] = b;
  }

  /** An unsigned varint (up to 2^32 - 1). */
  varint(n: number): void {
    if (this.pos + 5 > this.buf.length) this.room(5);
    const buf = this.buf;
    while (n >= 0x80) {
      buf[this.pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[this.pos++] = n;
  }

  u32(n: number): void {
    this.room(4);
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4;
  }

  value(v: unknown, depth: number): void {
    switch (typeof v) {
      case 'number':
        this.number(v);
        return;
      case 'string':
        this.string(v);
        return;
      case 'boolean':
        this.byte(v ? Tag.True : Tag.False);
        return;
      case 'undefined':
        this.byte(Tag.Undefined);
        return;
      case 'object':
        if (v === null) {
          this.byte(Tag.Null);
          return;
        }
        // A Proxy looks plain from outside, but structured clone refuses it: v8 throws the error it always threw.
        if (depth > MAX_DEPTH || types.isProxy(v)) throw FALLBACK;
        if (!this.container(v, depth)) return;
        if (Array.isArray(v)) this.array(v, depth, false);
        else this.object(v as Record<string, unknown>, depth);
        return;
      default:
        // bigint (v8 carries it), function and symbol (v8 throws the error the caller expects)
        throw FALLBACK;
    }
  }

  number(v: number): void {
    if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
      if (v >= 0 && v < 0x80) {
        this.byte(Tag.Small | v);
        return;
      }
      this.byte(Tag.Int);
      this.varint(((v << 1) ^ (v >> 31)) >>> 0);
      return;
    }
    this.room(9);
    this.buf[this.pos++] = Tag.Float;
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  string(s: string): void {
    const n = s.length;
    if (n <= TABLED) {
      const slot = slotOf(s);
      if (this.slots[slot] === s) {
        this.room(2);
        this.buf[this.pos++] = Tag.StringRef;
        this.buf[this.pos++] = slot;
        return;
      }
      this.slots[slot] = s;
      this.room(2 + 3 * n);
      const buf = this.buf;
      const start = this.pos;
      let p = start + 2;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === n) {
        buf[start] = Tag.Ascii;
        buf[start + 1] = n;
        this.pos = p;
        return;
      }
      if (!isWellFormed(s)) {
        // Cached all the same: the reader caches every short string it reads.
        this.utf16(s);
        return;
      }
      const bytes = buf.utf8Write(s, start + 2);
      buf[start] = Tag.Utf8;
      buf[start + 1] = bytes;
      this.pos = start + 2 + bytes;
      return;
    }
    if (!isWellFormed(s)) {
      this.utf16(s);
      return;
    }
    this.room(5 + 3 * n);
    const start = this.pos;
    const bytes = this.buf.utf8Write(s, start + 5);
    this.buf[start] = bytes === n ? Tag.LongAscii : Tag.LongUtf8;
    this.buf.writeUInt32LE(bytes, start + 1);
    this.pos = start + 5 + bytes;
  }

  private utf16(s: string): void {
    this.byte(Tag.Utf16);
    this.u32(s.length);
    this.room(2 * s.length);
    this.pos += this.buf.write(s, this.pos, 'utf16le');
  }

  /** `top`: the batch itself (our own array: no check for named properties, any length). */
  array(a: readonly unknown[], depth: number, top: boolean): void {
    if (!top) {
      if (a.length > MAX_PACKED_ARRAY || Object.getPrototypeOf(a) !== Array.prototype) throw FALLBACK;
      // Named properties: structured clone carries them (holes are caught below).
      if (Object.keys(a).length > a.length) throw FALLBACK;
    }
    const n = a.length;
    this.byte(Tag.Array);
    this.varint(n);
    for (let i = 0; i < n; i++) {
      const v = a[i];
      // A hole: v8 keeps it, this format has none.
      if (v === undefined && !(i in a)) throw FALLBACK;
      this.value(v, depth + 1);
    }
  }

  object(o: Record<string, unknown>, depth: number): void {
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) throw FALLBACK;
    // Own enumerable keys, each value read once (a getter runs once, as with structured clone).
    // for-in reads V8's enum cache without making a key array; it also walks the prototype, so
    // only while Object.prototype has no enumerable property (checked per batch).
    const keys = this.keys;
    const vals = this.vals;
    let n = 0;
    let flat = true;
    if (this.inheritsNothing) {
      for (const k in o) {
        const v = o[k];
        keys[n] = k;
        vals[n++] = v;
        if (typeof v === 'object' && v !== null) flat = false;
      }
    } else {
      for (const k of Object.keys(o)) {
        const v = o[k];
        keys[n] = k;
        vals[n++] = v;
        if (typeof v === 'object' && v !== null) flat = false;
      }
    }
    if (flat && n > 0 && n <= MAX_SHAPE_KEYS) {
      this.shaped(keys, vals, n);
      return;
    }
    // What is below may be an object, which uses the scratch too.
    const ownKeys = keys.slice(0, n);
    const ownVals = vals.slice(0, n);
    this.byte(Tag.Object);
    for (let i = 0; i < n; i++) {
      this.string(ownKeys[i] as string);
      this.value(ownVals[i], depth + 1);
    }
    this.byte(Tag.End);
  }

  /** A flat object by its shape: the keys when the shape is new in this batch, then the values. */
  private shaped(keys: string[], vals: unknown[], n: number): void {
    const first = keys[0] as string;
    const slot = (n * 5 + first.length * 3 + first.charCodeAt(0)) & (SHAPE_SLOTS - 1);
    const known = this.shapes[slot];
    let same = known !== undefined && known.length === n;
    for (let i = 0; same && i < n; i++) same = (known as string[])[i] === keys[i];
    if (same) {
      this.room(2);
      this.buf[this.pos++] = Tag.Shaped;
      this.buf[this.pos++] = slot;
    } else {
      this.shapes[slot] = keys.slice(0, n);
      this.room(3);
      this.buf[this.pos++] = Tag.Shape;
      this.buf[this.pos++] = slot;
      this.buf[this.pos++] = n;
      for (let i = 0; i < n; i++) this.string(keys[i] as string);
    }
    for (let i = 0; i < n; i++) this.value(vals[i], 2);
  }

  /**
   * Identity: structured clone keeps shared and cyclic references, and so do
   * packed batches within a message. Between frames they may not: a flat
   * message (a frame-level array or object holding no array or object) sent
   * twice in one batch arrives as two equal copies, as it would in two
   * batches, so the common message costs no map entry. Below the frame level
   * every container gets an id in order of appearance, and so does the
   * frame-level one above it, at the first container under it (a cycle back
   * to it is kept); the last such frame-level container, met again as a
   * frame's field, is a reference too (a ref marker repeated in every frame
   * is written once).
   * One met again is written as a reference; returns false when it was.
   * The reader follows the same rule.
   */
  private container(o: object, depth: number): boolean {
    if (depth === 1) {
      if (o === this.lastFrame) {
        this.byte(Tag.Ref);
        this.varint(this.lastFrameId);
        return false;
      }
      this.frameObj = o;
      this.frameId = -1;
      return true;
    }
    if (this.frameId < 0) {
      this.frameId = this.nextId++;
      this.objects.set(this.frameObj as object, this.frameId);
      this.lastFrame = this.frameObj;
      this.lastFrameId = this.frameId;
    }
    const id = this.objects.get(o);
    if (id === undefined) {
      this.objects.set(o, this.nextId++);
      return true;
    }
    this.byte(Tag.Ref);
    this.varint(id);
    return false;
  }
}

const writer = new Writer();

/** How a flat object of one shape is read: its values in key order, then the object. */
interface Shape {
  readonly keys: readonly string[];
  /** Kept across batches (in the cache and {@link lastShapes}). */
  readonly kept: boolean;
  make(r: Reader): Record<string, unknown>;
}

/**
 * Shapes met so far, by their keys (JSON, which no two key lists share), each
 * with a constructor made once: an object literal of the shape's keys, the
 * fastest way V8 has to make an object, and one that keeps every object of
 * the shape on one hidden class. Bounded: after {@link MAX_SHAPES} (a peer
 * sending ever new key sets), or where code cannot be generated
 * (`--disallow-code-generation-from-strings`), objects are built key by key.
 */
const shapesMade = new Map<string, Shape>();
/** The shape last read in each slot, by any batch. */
const lastShapes: (Shape | undefined)[] = new Array(SHAPE_SLOTS).fill(undefined);

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
export const MAX_SHAPES = 1024;
let generate = true;

function shapeOf(keys: string[]): Shape {
  // Keys longer than the string cache takes (a peer's, say) are worth no constructor and are not kept.
  for (const k of keys) if (k.length > TABLED) return { keys, kept: false, make: (r) => byKey(keys, r) };
  const id = JSON.stringify(keys);
  let shape = shapesMade.get(id);
  if (shape !== undefined) return shape;
  shape = { keys, kept: true, make: (r) => byKey(keys, r) };
  // A literal's "__proto__": sets the prototype: a shape with that key (an own __proto__ property) is built key by key.
  if (generate && shapesMade.size < MAX_SHAPES && !keys.includes('__proto__')) {
    try {
      // Keys as JSON string literals: nothing in a key can end the literal or run.
      const body = `"use strict"; return { ${keys.map((k) => `${JSON.stringify(k)}: r.primitive()`).join(', ')} };`;
      shape = { keys, kept: true, make: new Function('r', body) as (r: Reader) => Record<string, unknown> };
    } catch {
      generate = false;
    }
  }
  if (shapesMade.size < MAX_SHAPES) shapesMade.set(id, shape);
  return shape;
}

function byKey(keys: readonly string[], r: Reader): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const k of keys) {
    const v = r.primitive();
    if (k === '__proto__')
      Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
    else o[k] = v;
  }
  return o;
}

/** No lone surrogate, so UTF-8 round-trips it (`String.prototype.isWellFormed`: Node 20, not yet in TypeScript's ES2023 lib). */
const isWellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();

// ---------------------------------------------------------------- reading

class Reader {
  pos = 1;
  private readonly buf: RawBuffer;
  private readonly slots: (string | undefined)[] = new Array(SLOTS).fill(undefined);
  /** Containers with an id, in order (the writer's rule: {@link Writer.container}). */
  private readonly objects: object[] = [];
  private frameObj: object | undefined = undefined;
  private frameRegistered = true;
  /** The shape in each shape slot (the writer's: {@link Writer.shaped}). */
  private readonly shapes: (Shape | undefined)[] = new Array(SHAPE_SLOTS).fill(undefined);

  constructor(payload: Uint8Array) {
    this.buf = (
      Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length)
    ) as RawBuffer;
  }

  /** @internal A flat object's value: anything but an array or object. */
  primitive(): unknown {
    const tag = this.buf[this.pos];
    if (tag === Tag.Array || tag === Tag.Object || tag === Tag.Ref || tag === Tag.Shape || tag === Tag.Shaped)
      this.fault(`tag ${tag} in a flat object`);
    return this.value(2);
  }

  private fault(what: string): never {
    throw new RangeError(`packed batch: ${what} at byte ${this.pos}`);
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) this.fault(`truncated (${n} more bytes needed)`);
  }

  private byte(): number {
    if (this.pos >= this.buf.length) this.fault('truncated');
    return this.buf[this.pos++] as number;
  }

  /** An unsigned varint of at most 5 bytes (32 bits). */
  private varint(): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos + 5 > buf.length) return this.varintNearEnd();
    let b = buf[pos++] as number;
    let n = b & 0x7f;
    if (b >= 0x80) {
      b = buf[pos++] as number;
      n |= (b & 0x7f) << 7;
      if (b >= 0x80) {
        b = buf[pos++] as number;
        n |= (b & 0x7f) << 14;
        if (b >= 0x80) {
          b = buf[pos++] as number;
          n |= (b & 0x7f) << 21;
          if (b >= 0x80) {
            b = buf[pos++] as number;
            if (b > 0x0f) this.fault('varint over 32 bits');
            n = (n >>> 0) + b * 0x10000000;
          }
        }
      }
    }
    this.pos = pos;
    return n >>> 0;
  }

  private varintNearEnd(): number {
    let n = 0;
    for (let shift = 0; ; shift += 7) {
      const b = this.byte();
      if (shift === 28 && b > 0x0f) this.fault('varint over 32 bits');
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return n;
    }
  }

  private u32(): number {
    this.need(4);
    const n = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return n;
  }

  value(depth: number): unknown {
    const tag = this.byte();
    if (tag >= Tag.Small) return tag & 0x7f;
    switch (tag) {
      case Tag.Undefined:
        return undefined;
      case Tag.Null:
        return null;
      case Tag.False:
        return false;
      case Tag.True:
        return true;
      case Tag.Int: {
        const z = this.varint();
        return (z >>> 1) ^ -(z & 1);
      }
      case Tag.Float: {
        this.need(8);
        const f = this.buf.readDoubleLE(this.pos);
        this.pos += 8;
        return f;
      }
      case Tag.Ascii:
      case Tag.Utf8:
      case Tag.LongAscii:
      case Tag.LongUtf8:
      case Tag.Utf16:
      case Tag.StringRef:
        return this.stringAfter(tag);
      case Tag.Array: {
        if (depth > MAX_DEPTH) this.fault('nesting too deep');
        const n = this.varint();
        // Every element takes at least a byte: a length past the bytes left is a lie, refused before reading on.
        if (n > this.buf.length - this.pos) this.fault(`array of ${n} elements in ${this.buf.length - this.pos} bytes`);
        const a: unknown[] = [];
        this.register(a, depth);
        for (let i = 0; i < n; i++) a.push(this.value(depth + 1));
        return a;
      }
      case Tag.Object: {
        if (depth > MAX_DEPTH) this.fault('nesting too deep');
        const o: Record<string, unknown> = {};
        this.register(o, depth);
        for (;;) {
          const t = this.byte();
          if (t === Tag.End) return o;
          const k = this.stringAfter(t);
          const v = this.value(depth + 1);
          if (k === '__proto__')
            Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
          else o[k] = v;
        }
      }
      case Tag.Shape:
      case Tag.Shaped: {
        if (depth > MAX_DEPTH) this.fault('nesting too deep');
        const slot = this.byte();
        if (slot >= SHAPE_SLOTS) this.fault(`shape slot ${slot} (there are ${SHAPE_SLOTS})`);
        let shape = this.shapes[slot];
        if (tag === Tag.Shape) {
          const n = this.byte();
          if (n === 0 || n > MAX_SHAPE_KEYS) this.fault(`a shape of ${n} keys`);
          const keys: string[] = [];
          for (let i = 0; i < n; i++) keys.push(this.stringAfter(this.byte()));
          // Most batches of a link repeat the last one's shapes in the same slots.
          const last = lastShapes[slot];
          shape = last !== undefined && sameKeys(last.keys, keys) ? last : shapeOf(keys);
          if (shape.kept) lastShapes[slot] = shape;
          this.shapes[slot] = shape;
        } else if (shape === undefined) {
          this.fault(`shape slot ${slot}, which holds none`);
        }
        const o = shape.make(this);
        this.register(o, depth);
        return o;
      }
      case Tag.Ref: {
        if (depth < 1) this.fault('reference at the top');
        if (depth > 1) this.registerFrame();
        const id = this.varint();
        const o = this.objects[id];
        if (o === undefined) this.fault(`reference to object ${id}, of ${this.objects.length} so far`);
        return o;
      }
      default:
        this.pos--;
        return this.fault(`unknown tag ${tag}`);
    }
  }

  private register(o: object, depth: number): void {
    if (depth === 1) {
      this.frameObj = o;
      this.frameRegistered = false;
    } else if (depth > 1) {
      this.registerFrame();
      this.objects.push(o);
    }
  }

  private registerFrame(): void {
    if (this.frameRegistered) return;
    this.frameRegistered = true;
    this.objects.push(this.frameObj as object);
  }

  /** The next `n` bytes as a string: ASCII (read as latin1, the cheaper decoder) or UTF-8. */
  private bytesAsString(n: number, ascii: boolean): string {
    this.need(n);
    const end = this.pos + n;
    const s = ascii ? this.buf.latin1Slice(this.pos, end) : this.buf.utf8Slice(this.pos, end);
    this.pos = end;
    return s;
  }

  /** A string whose tag was just read (a key must be one: anything else is a fault). */
  private stringAfter(tag: number): string {
    switch (tag) {
      case Tag.StringRef: {
        const i = this.byte();
        const s = i < SLOTS ? this.slots[i] : undefined;
        if (s === undefined) this.fault(`reference to string slot ${i}, which holds none`);
        return s;
      }
      case Tag.Ascii:
      case Tag.Utf8: {
        const s = this.bytesAsString(this.byte(), tag === Tag.Ascii);
        this.slots[slotOf(s)] = s;
        return s;
      }
      case Tag.LongAscii:
      case Tag.LongUtf8:
        return this.bytesAsString(this.u32(), tag === Tag.LongAscii);
      case Tag.Utf16: {
        const n = this.u32();
        this.need(2 * n);
        const s = this.buf.toString('utf16le', this.pos, this.pos + 2 * n);
        this.pos += 2 * n;
        if (n <= TABLED) this.slots[slotOf(s)] = s;
        return s;
      }
      default:
        this.pos--;
        return this.fault(`tag ${tag} where a string was expected`);
    }
  }
}
