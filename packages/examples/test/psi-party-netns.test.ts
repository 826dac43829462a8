/**
 * Two organisations as two machines: the test makes two network namespaces
 * (`ip netns`, needs root) joined only by a veth pair with private addresses
 * (10.254.x.1 / 10.254.x.2: nothing else is routed, no traffic leaves the
 * machine). Each namespace has its own nats-server on its own loopback (a
 * hub in A, a leaf in B connecting to A over the veth) and its own party,
 * which reaches only its own server. Skipped, saying why, where namespaces
 * cannot be made.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsServerBinary } from '../../remote/test/helpers/NatsServer.js';
import { type PartyProcess, partyArgs, startParty, writePair } from './helpers/party.js';

const tag = (process.pid % 60_000).toString(36);
const nsA = `troupe-a-${tag}`;
const nsB = `troupe-b-${tag}`;
const vethA = `tva${tag}`;
const vethB = `tvb${tag}`;
const subnet = `10.254.${process.pid % 250}`;
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** Why namespaces cannot be used here, or undefined when they can. */
function unavailable(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root (ip netns needs CAP_SYS_ADMIN)';
  const probe = `troupe-probe-${tag}`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) return `ip netns add failed: ${r.error?.message ?? r.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}
const why = unavailable();
if (why !== undefined) console.warn(`psi-party-netns: skipped: ${why}`);

const servers: ChildProcess[] = [];
const started: PartyProcess[] = [];
let work: string;

/** Start nats-server in a namespace and wait for `ready` in its log. */
function serverIn(ns: string, config: string, ready: RegExp[]): Promise<ChildProcess> {
  const file = join(work, `${ns}.conf`);
  writeFileSync(file, config);
  const proc = spawn('ip', ['netns', 'exec', ns, natsServerBinary(), '-c', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  servers.push(proc);
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server in ${ns} not ready:\n${log}`)), 20_000);
    proc.stderr?.on('data', (d) => {
      log += d;
      if (ready.every((r) => r.test(log))) {
        clearTimeout(timer);
        resolve(proc);
      }
    });
    proc.once('exit', (code) => reject(new Error(`nats-server in ${ns} exited ${code}:\n${log}`)));
  });
}

describe.skipIf(why !== undefined)(
  'two organisations in two network namespaces (two machines)',
  { timeout: 120_000 },
  () => {
    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), 'troupe-psi-netns-'));
      ip('netns', 'add', nsA);
      ip('netns', 'add', nsB);
      ip('link', 'add', vethA, 'type', 'veth', 'peer', 'name', vethB);
      ip('link', 'set', vethA, 'netns', nsA);
      ip('link', 'set', vethB, 'netns', nsB);
      ip('-n', nsA, 'addr', 'add', `${subnet}.1/30`, 'dev', vethA);
      ip('-n', nsB, 'addr', 'add', `${subnet}.2/30`, 'dev', vethB);
      for (const [ns, dev] of [
        [nsA, vethA],
        [nsB, vethB],
      ] as const) {
        ip('-n', ns, 'link', 'set', 'lo', 'up');
        ip('-n', ns, 'link', 'set', dev, 'up');
      }
      await serverIn(
        nsA,
        [
          'host: 127.0.0.1',
          'port: 4222',
          'server_name: org_a',
          `jetstream { store_dir: ${JSON.stringify(join(work, 'js-a'))}, domain: psihub }`,
          `leafnodes { listen: "${subnet}.1:7422" }`,
        ].join('\n'),
        [/Server is ready/],
      );
      await serverIn(
        nsB,
        [
          'host: 127.0.0.1',
          'port: 4222',
          'server_name: org_b',
          `leafnodes { remotes: [ { url: "nats-leaf://${subnet}.1:7422" } ] }`,
        ].join('\n'),
        [/Server is ready/, /Leafnode connection created/],
      );
    });
    afterAll(async () => {
      for (const p of started) if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
      for (const s of servers) s.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 200));
      for (const ns of [nsA, nsB]) spawnSync('ip', ['netns', 'del', ns]);
      rmSync(work, { recursive: true, force: true });
    });

    it('organisation B cannot reach A’s client port: only the leaf link crosses', () => {
      const r = spawnSync(
        'ip',
        [
          'netns',
          'exec',
          nsB,
          process.execPath,
          '-e',
          `require('net').connect(4222, '${subnet}.1').on('connect', () => process.exit(0)).on('error', () => process.exit(3))`,
        ],
        { timeout: 10_000 },
      );
      expect(r.status).toBe(3);
    });

    it('each party in its own namespace, on its own server, finds the other and both get their rows', async () => {
      const dir = mkdtempSync(join(work, 'run-'));
      const files = writePair(dir, 1_000);
      const party = (side: 'left' | 'right', ns: string) => {
        const p = startParty(
          partyArgs({
            side,
            file: files[side],
            out: join(dir, `out-${side}`),
            session: 'netns',
            nats: 'nats://127.0.0.1:4222',
            extra: ['--nats-js-domain', 'psihub'],
          }),
          {},
          ['ip', 'netns', 'exec', ns],
        );
        started.push(p);
        return p;
      };
      const left = party('left', nsA);
      const right = party('right', nsB);
      const [l, r] = await Promise.all([left.exited, right.exited]);
      expect(l.code, left.stderr()).toBe(0);
      expect(r.code, right.stderr()).toBe(0);
      expect(readFileSync(join(dir, 'out-left', 'left.csv'), 'utf8')).toBe(files.expectLeft);
      expect(readFileSync(join(dir, 'out-right', 'right.csv'), 'utf8')).toBe(files.expectRight);
    });
  },
);
