import { describe, expect, it } from 'vitest';
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
