/**
 * Troupe frames built by hand from the envelope layout documented in the
 * README (not with the package's encoder, so tests also check the format),
 * for tests that play a foreign or forged publisher.
 */

/** FNV-1a 32 of a cluster name: the envelope's cluster tag. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** Header fields; a test names the ones it cares about and the rest have defaults. */
export interface Fields {
  magic?: number;
  version?: number;
  /** 1 data, 2 credit, 3 sync, 4 close, 5 heartbeat, 6 leave, 7 quarantine, 8 lost. */
  kind?: number;
  cluster: string;
  /** 16 hex digits. */
  sender: string;
  /** 16 hex digits (zeros for broadcasts). */
  target: string;
  seq?: number;
  index?: number;
  count?: number;
  offset?: number;
  total?: number;
  /** The sender's node name. */
  node: string;
}

/** A frame per the documented envelope: 45-byte fixed header, node name, payload. */
export function frame(f: Fields, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const name = Buffer.from(f.node);
  const buf = Buffer.alloc(45 + name.length + payload.length);
  buf.writeUInt16BE(f.magic ?? 0x5452, 0);
  buf[2] = f.version ?? 3;
  buf[3] = f.kind ?? 1;
  buf.writeUInt32BE(fnv1a(f.cluster), 4);
  buf.write(f.sender, 8, 'hex');
  buf.write(f.target, 16, 'hex');
  buf.writeUInt32BE(f.seq ?? 0, 24);
  buf.writeUInt16BE(f.index ?? 0, 28);
  buf.writeUInt16BE(f.count ?? 1, 30);
  buf.writeDoubleBE(f.offset ?? 0, 32);
  buf.writeUInt32BE(f.total ?? payload.length, 40);
  buf[44] = name.length;
  name.copy(buf, 45);
  Buffer.from(payload).copy(buf, 45 + name.length);
  return buf;
}

/** The parts of a frame read back (for what a node sends to a forged member). */
export function readFrame(data: Uint8Array): { kind: number; sender: string; target: string; payload: Buffer } {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const n = buf[44] ?? 0;
  return {
    kind: buf[3] ?? 0,
    sender: buf.subarray(8, 16).toString('hex'),
    target: buf.subarray(16, 24).toString('hex'),
    payload: buf.subarray(45 + n),
  };
}
