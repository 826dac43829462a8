import { describe, expect, it } from 'vitest';
import { checkLeaveTimeout } from '../src/ClusterOptions.js';
import { resolveJoinOptions } from '../src/JoinOptions.js';

const base = { servers: 'nats://127.0.0.1:4222', cluster: 'c', node: 'n' };

describe('resolveJoinOptions', () => {
  it('applies the documented defaults (detection bound 3 250 ms)', () => {
    const o = resolveJoinOptions(base);
    expect(o).toMatchObject({ heartbeatIntervalMs: 500, deadAfterMs: 3_000, checkIntervalMs: 250, registry: true });
    expect(o.transport).toMatchObject({ windowBytes: 8 * 2 ** 20, maxBatchBytes: 64 * 2 ** 20 });
  });

  it('refuses names that are not one subject token, naming the option and the value', () => {
    expect(() => resolveJoinOptions({ ...base, cluster: 'a.b' })).toThrow(/cluster must be .* got "a.b"/);
    expect(() => resolveJoinOptions({ ...base, node: 'x*' })).toThrow(/node must be/);
    expect(() => resolveJoinOptions({ ...base, node: '' })).toThrow(/node must be/);
  });

  it('refuses a detector that one late heartbeat would trip, and half-given credentials', () => {
    expect(() => resolveJoinOptions({ ...base, heartbeatIntervalMs: 1_000, deadAfterMs: 1_500 })).toThrow(
      /at least twice heartbeatIntervalMs/,
    );
    expect(() => resolveJoinOptions({ ...base, user: 'u' })).toThrow(/user and pass/);
    expect(() => resolveJoinOptions({ ...base, servers: [] })).toThrow(/servers/);
    expect(() => resolveJoinOptions({ ...base, transport: { windowBytes: -1 } })).toThrow(/transport.windowBytes/);
  });

  it('refuses a send queue smaller than the largest batch (such a batch would be refused for good)', () => {
    expect(() => resolveJoinOptions({ ...base, transport: { maxQueuedBytes: 1024 * 1024 } })).toThrow(
      /transport.maxQueuedBytes \(1048576\) must be at least transport.maxBatchBytes \(67108864\)/,
    );
    expect(
      resolveJoinOptions({ ...base, transport: { maxQueuedBytes: 1 << 20, maxBatchBytes: 1 << 20 } }).transport,
    ).toMatchObject({ maxQueuedBytes: 1 << 20, maxBatchBytes: 1 << 20 });
  });

  it('refuses a misspelt option, naming it and the option meant, at the top and in transport', () => {
    const bad = (o: Record<string, unknown>) => () => resolveJoinOptions({ ...base, ...o } as never);
    expect(bad({ deadAfter: 1 })).toThrow(/join: unknown option 'deadAfter' \(did you mean 'deadAfterMs'\?\)/);
    expect(bad({ heartbeatMs: 5 })).toThrow(/unknown option 'heartbeatMs'/);
    expect(bad({ transport: { windowByte: 1 } })).toThrow(
      /join: transport: unknown option 'windowByte' \(did you mean 'windowBytes'\?\)/,
    );
    expect(bad({ transport: 'big' })).toThrow(/transport must be an object/);
  });

  it('refuses a duration no Node timer can wait (it would fire after 1 ms, over and over)', () => {
    expect(() => resolveJoinOptions({ ...base, heartbeatIntervalMs: 3e9, deadAfterMs: 6e9 })).toThrow(
      /heartbeatIntervalMs must be a number of milliseconds from 1 to 2147483647/,
    );
    expect(() => resolveJoinOptions({ ...base, discoveryMs: 1e12 })).toThrow(/discoveryMs/);
    expect(() => resolveJoinOptions({ ...base, transport: { stallMs: 1e12 } })).toThrow(/transport.stallMs/);
    expect(() => checkLeaveTimeout(1e12)).toThrow(/leaveTimeoutMs/);
    expect(resolveJoinOptions({ ...base, connectTimeoutMs: 2 ** 31 - 1 }).connectTimeoutMs).toBe(2 ** 31 - 1);
  });

  it('refuses options of the wrong kind, naming the option: registry, logger, clock, two ways to authenticate, a check rarer than the silence it looks for', () => {
    const bad = (o: Record<string, unknown>) => () => resolveJoinOptions({ ...base, ...o } as never);
    expect(bad({ registry: 'no' })).toThrow(/registry must be true or false, got "no"/);
    expect(bad({ registry: 0 })).toThrow(/registry must be true or false/);
    expect(bad({ logger: 42 })).toThrow(/logger must be an object with the methods debug, info, warn, error; got 42/);
    expect(bad({ logger: { warn() {} } })).toThrow(/logger .* missing debug, info, error/);
    expect(bad({ clock: 42 })).toThrow(/clock must be an object with the methods now, setTimeout, clearTimeout/);
    expect(bad({ token: 't', user: 'u', pass: 'p' })).toThrow(/one way to authenticate, not user\/pass and token/);
    expect(bad({ token: 't', nkeySeed: 'SU' })).toThrow(/not token and nkeySeed/);
    expect(bad({ checkIntervalMs: 60_000 })).toThrow(/checkIntervalMs \(60000\) must be at most deadAfterMs \(3000\)/);
    expect(resolveJoinOptions({ ...base, registry: false }).registry).toBe(false);
  });

  it('takes a list of servers and a JetStream domain, and refuses a domain nats-server would not accept', () => {
    const o = resolveJoinOptions({ ...base, servers: ['nats://a:4222', 'nats://b:4222'], jetstreamDomain: 'hub' });
    expect(o).toMatchObject({ servers: ['nats://a:4222', 'nats://b:4222'], jetstreamDomain: 'hub' });
    expect(resolveJoinOptions(base).jetstreamDomain).toBeUndefined();
    expect(() => resolveJoinOptions({ ...base, jetstreamDomain: 'a.b' })).toThrow(
      /jetstreamDomain must be .* got "a.b"/,
    );
    expect(() => resolveJoinOptions({ ...base, jetstreamDomain: '' })).toThrow(/jetstreamDomain/);
  });
});
