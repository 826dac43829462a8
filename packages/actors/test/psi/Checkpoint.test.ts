import { appendFileSync, chmodSync, existsSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PsiCheckpointError } from '../../src/index.js';
import { Checkpoint, type CheckpointParams } from '../../src/psi/Checkpoint.js';
import { csvFile, emails, tmp } from './helpers.js';

function setup() {
  const d = tmp('ckpt');
  const file = csvFile(d, 'a.csv', emails(0, 10));
  const params: CheckpointParams = {
    session: 's',
    side: 'left',
    file,
    keyColumns: ['id'],
    delimiter: ',',
    batchSize: 4,
    reveal: 'both',
    cardinalityOnly: false,
  };
  return { d, dir: join(d, 'state'), file, params };
}
const mode = (p: string) => statSync(p).mode & 0o777;
const key = () => new Uint8Array(32).fill(7);

describe('Checkpoint', () => {
  it('keeps key material only in files of mode 0600, in a folder of mode 0700', async () => {
    const { dir, params } = setup();
    const c = await Checkpoint.create(dir, params, 'run-l', 'run-r', key());
    c.appendPerm(0, new Uint32Array([2, 0, 1, 3]));
    expect(mode(dir)).toBe(0o700);
    for (const f of ['key', 'run.json', 'log']) expect(mode(join(dir, f)), f).toBe(0o600);
    c.close();
  });

  it('reads back every record for a resume, with the key and both run ids', async () => {
    const { dir, params } = setup();
    const c = await Checkpoint.create(dir, params, 'run-l', 'run-r', key());
    c.appendPerm(0, new Uint32Array([2, 0, 1, 3]));
    c.appendOwnReturned(0, new Uint8Array(48).fill(1));
    c.appendPeerDoubles(5, new Uint8Array(24).fill(2));
    c.appendPerm(0, new Uint32Array([3, 2, 1, 0])); // sent again after a resume: the last one counts
    c.close();
    const l = await Checkpoint.load(dir, params);
    expect(l).toBeDefined();
    expect(l?.run).toBe('run-l');
    expect(l?.peerRun).toBe('run-r');
    expect(l?.committed).toBe(false);
    expect([...(l?.key ?? [])]).toEqual([...key()]);
    expect([...(l?.perms.get(0) ?? [])]).toEqual([3, 2, 1, 0]);
    expect(l?.ownReturned.get(0)?.byteLength).toBe(48);
    expect([...(l?.peerDoubles.get(5) ?? [])]).toEqual(new Array(24).fill(2));
    l?.checkpoint.close();
  });

  it('ignores a last record cut short by a crash', async () => {
    const { dir, params } = setup();
    const c = await Checkpoint.create(dir, params, 'a', 'b', key());
    c.appendPeerDoubles(0, new Uint8Array(12));
    c.close();
    appendFileSync(join(dir, 'log'), Buffer.from([3, 1, 0, 0, 0, 12, 0, 0, 0, 9, 9])); // header of 12 bytes, 2 written
    const l = await Checkpoint.load(dir, params);
    expect([...(l?.peerDoubles.keys() ?? [])]).toEqual([0]);
    l?.checkpoint.close();
  });

  it('is undefined for a folder without a checkpoint', async () => {
    const { dir, params } = setup();
    expect(await Checkpoint.load(dir, params)).toBeUndefined();
  });

  it('refuses a resume with other flags, naming the flag and both values', async () => {
    const { dir, params } = setup();
    (await Checkpoint.create(dir, params, 'a', 'b', key())).close();
    const e = await Checkpoint.load(dir, { ...params, batchSize: 8 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PsiCheckpointError);
    expect((e as Error).message).toMatch(/was made with --batch 4, this run has 8; resume with the same flags/);
    await expect(Checkpoint.load(dir, { ...params, reveal: 'left' })).rejects.toThrow(
      /--reveal "both", this run has "left"/,
    );
  });

  it('refuses a resume when the input file changed since', async () => {
    const { dir, params, file } = setup();
    (await Checkpoint.create(dir, params, 'a', 'b', key())).close();
    writeFileSync(file, 'id,n\nother,1\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    await expect(Checkpoint.load(dir, params)).rejects.toThrow(/a\.csv changed since the checkpoint was made/);
  });

  it('refuses a key file that others can read', async () => {
    const { dir, params } = setup();
    (await Checkpoint.create(dir, params, 'a', 'b', key())).close();
    chmodSync(join(dir, 'key'), 0o644);
    await expect(Checkpoint.load(dir, params)).rejects.toThrow(
      /the key file is readable by others \(mode 644, must be 600\)/,
    );
  });

  it('deletes the key once committed, and everything when deleted', async () => {
    const { dir, params } = setup();
    const c = await Checkpoint.create(dir, params, 'a', 'b', key());
    await c.markCommitted();
    expect(existsSync(join(dir, 'key'))).toBe(false);
    const l = await Checkpoint.load(dir, params);
    expect(l?.committed).toBe(true);
    expect(l?.key).toBeUndefined();
    l?.checkpoint.close();
    await c.delete();
    expect(existsSync(dir)).toBe(false);
  });
});
