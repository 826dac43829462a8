import {
  ActorStoppedError,
  type ActorSystemOptions,
  decide,
  defineActor,
  deserializeError,
  serializeError,
  UnserializableMessageError,
} from '@troupe/core';
import { describe, expect, it } from 'vitest';
import { QuotaError } from '../fixtures/workers/actors.js';
import { useSystem } from '../helpers/system.js';
import { EchoSpec, FaultySpec, failure } from './helpers.js';

const useStart = useSystem();
const start = (extra: Partial<ActorSystemOptions> = {}) =>
  useStart({ name: 'worker-errors', workers: { size: 1 }, askTimeoutMs: 20_000, ...extra });

// Issue 9 item 4: errors keep their class, code, fields and cause across a thread.
describe('errors that cross a worker thread', () => {
  it('come out as instances of their Troupe class, with code and fields', async () => {
    const s = await start();
    const faulty = s.spawnWorker(FaultySpec, { name: 'faulty' });
    const Gone = defineActor<{ type: 'get' }, undefined>({ init: () => undefined, receive: () => undefined });
    const gone = s.spawn(Gone, { name: 'gone' });
    await s.stop(gone);
    const stopped = await failure(faulty.ask({ type: 'ask-stopped', to: gone }));
    expect(stopped).toBeInstanceOf(ActorStoppedError);
    expect(stopped).toMatchObject({ code: 'ERR_ACTOR_STOPPED', target: '/user/gone', messageType: 'get' });
    // The same shape as the error a local ask to it gives.
    const local = await failure(gone.ask({ type: 'get' }));
    expect(local).toBeInstanceOf(ActorStoppedError);
    expect({ ...stopped }).toEqual({ ...local });

    const echo = s.spawnWorker(EchoSpec);
    const unclonable = await failure(echo.ask({ type: 'bad-reply' }));
    expect(unclonable).toBeInstanceOf(UnserializableMessageError);
    expect(unclonable.code).toBe('ERR_UNSERIALIZABLE_MESSAGE');
  });

  it('keep a registered user class, its fields and its cause chain, as a rejection and inside a reply', async () => {
    const s = await start();
    const faulty = s.spawnWorker(FaultySpec, { name: 'faulty' });
    const err = await failure(faulty.ask({ type: 'quota' }));
    expect(err).toBeInstanceOf(QuotaError);
    expect(err).toMatchObject({ name: 'QuotaError', tenant: 'acme', limit: 10 });
    expect(err.message).toBe('quota of acme exceeded (10)');
    expect(err.cause).toBeInstanceOf(TypeError);
    expect(err.cause.message).toBe('limit reached');
    expect(err.stack).toMatch(/actors\.ts/);
    const reply = await faulty.ask<{ error: QuotaError }>({ type: 'quota-in-reply' });
    expect(reply.error).toBeInstanceOf(QuotaError);
    expect(reply.error.tenant).toBe('beta');
  });

  it('let a supervisor decide by the class of a failure that happened in a thread', async () => {
    const s = await start();
    const faulty = s.spawnWorker(FaultySpec, {
      name: 'faulty',
      supervision: decide((e) => (e instanceof QuotaError ? 'resume' : 'restart')),
    });
    faulty.tell({ type: 'quota' });
    faulty.tell({ type: 'quota' });
    // Resumed, not restarted: the state (two failures counted) survived.
    expect(await faulty.ask({ type: 'count' }, { timeoutMs: 10_000 })).toBe(2);
    expect(s.metrics(faulty)?.restarts).toBe(0);
    expect(s.metrics(faulty)?.failed).toBe(2);
  });
});

describe('serializeError / deserializeError', () => {
  it('round-trip a registered class without calling its constructor, and a plain error as an Error', () => {
    const original = new QuotaError('z', 1, { cause: new RangeError('deep') });
    const copy = deserializeError(structuredClone(serializeError(original)));
    expect(copy).toBeInstanceOf(QuotaError);
    expect(copy).not.toBe(original);
    expect(copy).toMatchObject({ tenant: 'z', limit: 1, name: 'QuotaError' });
    expect((copy as Error).cause).toBeInstanceOf(RangeError);
    const unknown = Object.assign(new Error('odd'), { code: 'E_ODD', when: 3 });
    class Unregistered extends Error {}
    const plain = deserializeError(serializeError(Object.assign(new Unregistered('x'), { code: 'E_X' })));
    expect(plain).toBeInstanceOf(Error);
    expect(plain).not.toBeInstanceOf(Unregistered);
    expect(deserializeError(serializeError(unknown))).toMatchObject({ code: 'E_ODD', when: 3, message: 'odd' });
  });
});
