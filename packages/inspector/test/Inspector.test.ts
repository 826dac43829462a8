import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineActor, restart } from '@troupe/core';
import { type InspectorSection, inspect, nodesSection, revealPayloads, type SectionView } from '@troupe/inspector';
import { afterEach, describe, expect, it } from 'vitest';
import { frames, post, readFeed, request } from './helpers/http.js';
import { useSystem, waitFor } from './helpers/system.js';

const start = useSystem();
const TOKEN = 'test-token-0123456789abcdef';
// Every message below carries this; the feed must never contain it.
const SECRET = 'S3CRET-4111-1111-1111-1111';

type Msg =
  | { type: 'work'; card: string }
  | { type: 'boom'; card: string }
  | { type: 'greet'; who: string }
  | { type: 'done' };

const Worker = defineActor<Msg, undefined>({
  name: 'Worker',
  init: () => undefined,
  receive: (_s, m, ctx) => {
    if (m.type === 'boom') throw new Error('card declined');
    if (m.type === 'done') ctx.reply(true);
  },
});

let closeAfter: (() => Promise<void>) | undefined;
afterEach(async () => {
  await closeAfter?.();
  closeAfter = undefined;
});

async function setup(options: Parameters<typeof inspect>[1] = {}) {
  const system = await start();
  const inspector = await inspect(system, { intervalMs: 100, ...options });
  closeAfter = () => inspector.close();
  return { system, inspector, base: inspector.url.replace(/\/$/, '') };
}

describe('inspect', () => {
  it('serves the page, its script and style from the package, with a strict CSP and nothing from elsewhere', async () => {
    const { base } = await setup();
    const page = await request(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.text).toContain('/app.js');
    for (const asset of ['/app.js', '/style.css']) {
      const a = await request(`${base}${asset}`);
      expect(a.status, asset).toBe(200);
    }
    // No asset names another host (the SVG namespace is an identifier, not a fetch).
    const dir = new URL('../page/', import.meta.url);
    for (const file of readdirSync(dir)) {
      const text = readFileSync(new URL(file, dir), 'utf8').replaceAll('http://www.w3.org/2000/svg', '');
      expect(text, file).not.toMatch(/https?:\/\/|\/\/cdn|@import/);
    }
  });

  it('binds 127.0.0.1 by default and refuses a non-loopback host without allowRemote and a token', async () => {
    const { system, inspector } = await setup();
    expect(inspector.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    await expect(inspect(system, { host: '0.0.0.0' })).rejects.toThrow(/not loopback.*allowRemote: true and a token/);
    await expect(inspect(system, { host: '0.0.0.0', allowRemote: true })).rejects.toThrow(/allowRemote/);
    await expect(inspect(system, { token: 'short' })).rejects.toThrow(/at least 16 characters/);
    await expect(inspect(system, { port: 70_000 })).rejects.toThrow(/port must be an integer/);
    await expect(inspect(system, { intervalMs: -1 })).rejects.toThrow(/intervalMs must be a positive number/);
  });

  it('refuses a request whose Host is not this inspector (DNS rebinding)', async () => {
    const { base, inspector } = await setup();
    const r = await request(`${base}/api/snapshot`, { headers: { host: `evil.example:${inspector.port}` } });
    expect(r.status).toBe(403);
    expect(r.json.error).toMatch(/host evil\.example/);
    const ok = await request(`${base}/api/snapshot`, { headers: { host: `localhost:${inspector.port}` } });
    expect(ok.status).toBe(200);
  });

  it('refuses stop and restart without the token, with a wrong one, and when no token was configured', async () => {
    const { system, base } = await setup({ token: TOKEN });
    const a = system.spawn(Worker, { name: 'victim' });
    await a.ask({ type: 'done' });
    const none = await post(`${base}/api/actors/stop`, { path: '/user/victim' });
    expect(none.status).toBe(401);
    expect(none.json.error).toMatch(/needs the token/);
    const wrong = await post(`${base}/api/actors/restart`, { path: '/user/victim' }, `${TOKEN}x`);
    expect(wrong.status).toBe(403);
    expect(wrong.json.error).toBe('wrong token');
    const foreign = await post(`${base}/api/actors/stop`, { path: '/user/victim' }, TOKEN, {
      origin: 'http://evil.example',
    });
    expect(foreign.status).toBe(403);
    // Nothing happened to the actor.
    expect(system.metrics(a)).toMatchObject({ restarts: 0 });
    expect(a.isAlive).toBe(true);

    const restarted = await post(`${base}/api/actors/restart`, { path: '/user/victim' }, TOKEN);
    expect(restarted.status).toBe(202);
    await waitFor(() => system.metrics(a)?.restarts === 1, 'the restart');
    const stopped = await post(`${base}/api/actors/stop`, { path: '/user/victim' }, TOKEN);
    expect(stopped.status).toBe(202);
    await system.whenTerminated(a);
    expect(a.isAlive).toBe(false);
  });

  it('refuses every action when started without a token', async () => {
    const { system, base } = await setup();
    const a = system.spawn(Worker, { name: 'safe' });
    const r = await post(`${base}/api/actors/stop`, { path: '/user/safe' }, TOKEN);
    expect(r.status).toBe(403);
    expect(r.json.error).toMatch(/started without a token/);
    expect(a.isAlive).toBe(true);
  });

  it('answers bad requests with a 4xx JSON error naming the field', async () => {
    const { base } = await setup({ token: TOKEN });
    const missing = await post(`${base}/api/actors/stop`, {}, TOKEN);
    expect(missing.status).toBe(400);
    expect(missing.json).toEqual({ error: 'path must be a non-empty string, got nothing', field: 'path' });
    const wrongType = await post(`${base}/api/actors/stop`, { path: 7 }, TOKEN);
    expect(wrongType.json).toMatchObject({ field: 'path', error: expect.stringMatching(/got number/) });
    const unknown = await post(`${base}/api/actors/stop`, { path: '/user/nobody' }, TOKEN);
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error: 'no live actor at /user/nobody', field: 'path' });
    const notJson = await post(`${base}/api/actors/stop`, '{"path":', TOKEN);
    expect(notJson.status).toBe(400);
    expect(notJson.json.error).toMatch(/not valid JSON/);
    const form = await request(`${base}/api/actors/stop`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${TOKEN}` },
      body: 'path=/user/x',
    });
    expect(form.status).toBe(415);
    expect((await request(`${base}/api/actors/stop`)).status).toBe(405);
    expect((await post(`${base}/api/actors/explode`, { path: '/user/x' }, TOKEN)).status).toBe(404);
    expect((await request(`${base}/nothing-here`)).json).toEqual({ error: 'nothing at /nothing-here' });
  });

  it('streams frames whose counts follow the system as actors spawn, work, fail and restart', async () => {
    const { system, base } = await setup();
    const feed = readFeed(`${base}/api/feed`, (events) =>
      frames(events).some((f) => f.actors.some((a: { path: string; restarts: number }) => a.restarts === 1)),
    );
    const a = system.spawn(Worker, { name: 'busy', supervision: restart() });
    for (let i = 0; i < 1000; i++) a.tell({ type: 'work', card: SECRET });
    await a.ask({ type: 'done' });
    a.tell({ type: 'boom', card: SECRET });
    const { events } = await feed;
    expect(events[0]?.event).toBe('history');
    const all = frames(events);
    const last = all[all.length - 1];
    const row = last.actors.find((x: { path: string }) => x.path === '/user/busy');
    expect(row).toMatchObject({ status: 'running', kind: 'Worker', restarts: 1, failed: 1 });
    expect(row.processed).toBeGreaterThanOrEqual(1001);
    expect(row.lastError).toMatchObject({ name: 'Error', message: 'card declined', directive: 'restart' });
    expect(last.totals.actors).toBe(1);
    // Some frame saw the burst being handled.
    expect(all.some((f) => f.totals.msgsPerSec > 0)).toBe(true);
  });

  it('never puts a message payload in the feed: dead letters, floods and failures show types only', async () => {
    const { system, base, inspector } = await setup({ token: TOKEN });
    const a = system.spawn(Worker, { name: 'cards', mailbox: { capacity: 10, overflow: 'drop-newest' } });
    for (let i = 0; i < 200; i++) a.tell({ type: 'work', card: SECRET }); // most overflow: mailbox-full
    a.tell({ type: 'boom', card: SECRET });
    system.select('/user/ghost').tell({ type: 'work', card: SECRET }); // unknown-actor
    const feed = await readFeed(`${base}/api/feed`, (events) =>
      frames(events).some((f) => f.deadLetters.byReason.some((r: { reason: string }) => r.reason === 'unknown-actor')),
    );
    const snapshot = await request(`${base}/api/snapshot`);
    for (const text of [feed.raw, snapshot.text, JSON.stringify(inspector.frame())]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain('4111');
    }
    const f = snapshot.json;
    expect(f.deadLetters.byReason.map((r: { reason: string }) => r.reason).sort()).toEqual([
      'mailbox-full',
      'unknown-actor',
    ]);
    expect(f.deadLetters.recent[0]).toEqual({
      at: expect.any(Number),
      recipient: '/user/ghost',
      reason: 'unknown-actor',
      type: 'work',
    });
  });

  it('shows a payload only for the message types an actor definition reveals', async () => {
    const Greeter = revealPayloads(defineActor<Msg, undefined>({ init: () => undefined, receive: () => undefined }), [
      'greet',
    ]);
    const { system, inspector } = await setup();
    const g = system.spawn(Greeter, { name: 'greeter' });
    // The inspector learns the opt-in from a frame while the actor lives.
    await waitFor(() => inspector.frame().actors.some((a) => a.path === '/user/greeter'), 'a frame with the greeter');
    await system.stop(g);
    g.tell({ type: 'greet', who: 'Ada' });
    g.tell({ type: 'work', card: SECRET });
    await waitFor(() => inspector.frame().deadLetters.recent.length >= 2, 'two dead letters');
    const recent = inspector.frame().deadLetters.recent;
    expect(recent[0]).toMatchObject({ type: 'work', reason: 'actor-stopped' });
    expect(recent[0]).not.toHaveProperty('payload');
    expect(recent[1]).toMatchObject({ type: 'greet', payload: '{"type":"greet","who":"Ada"}' });
    expect(JSON.stringify(inspector.frame())).not.toContain(SECRET);
  });

  it('adds contributed sections, fills the nodes slot, and runs their actions only with the token', async () => {
    const cancelled: string[] = [];
    const jobs: InspectorSection = {
      id: 'jobs',
      title: 'Jobs',
      collect: () => ({
        kind: 'table',
        columns: [
          { key: 'id', label: 'job' },
          { key: 'state', label: 'state', format: 'status' },
        ],
        rows: [{ id: 'j1', cells: { id: 'j1', state: 'running' }, actions: ['cancel'] }],
      }),
      actions: {
        cancel: (row) => {
          if (row !== 'j1') throw new Error(`no job ${row}`);
          cancelled.push(row);
        },
      },
    };
    const { base, inspector } = await setup({ token: TOKEN, sections: [jobs] });
    inspector.addSection(nodesSection(() => [{ id: 'node-b', status: 'up', heartbeatAgeMs: 420 }]));
    expect(() => inspector.addSection(jobs)).toThrow(/already on the page/);
    expect(() => inspector.addSection({ ...jobs, id: 'bad id' })).toThrow(/id must be/);
    await waitFor(() => inspector.frame().sections.length === 2, 'a frame with both sections');
    const f = inspector.frame();
    expect(f.sections.map((s) => s.id)).toEqual(['jobs', 'nodes']);
    expect(f.sections[1]?.view).toMatchObject({ kind: 'table', rows: [{ id: 'node-b', cells: { heartbeat: 420 } }] });
    // No column of dashes: phi and actors show only when the transport fills them.
    const columnsOf = (view: SectionView) => (view.kind === 'table' ? view.columns.map((c) => c.key) : []);
    expect(columnsOf(f.sections[1]?.view as SectionView)).toEqual(['id', 'address', 'status', 'heartbeat']);
    const withPhi = nodesSection(() => [{ id: 'me', self: true, status: 'up', heartbeatAgeMs: 0, phi: 0.4 }]).collect();
    expect(columnsOf(withPhi)).toEqual(['id', 'address', 'status', 'heartbeat', 'phi']);
    expect(withPhi).toMatchObject({ rows: [{ id: 'me', cells: { id: 'me (this node)', phi: 0.4 } }] });

    expect((await post(`${base}/api/sections/jobs/actions/cancel`, { row: 'j1' })).status).toBe(401);
    expect(cancelled).toEqual([]);
    const ok = await post(`${base}/api/sections/jobs/actions/cancel`, { row: 'j1' }, TOKEN);
    expect(ok.status).toBe(202);
    expect(cancelled).toEqual(['j1']);
    const failed = await post(`${base}/api/sections/jobs/actions/cancel`, { row: 'j9' }, TOKEN);
    expect(failed).toMatchObject({ status: 409, json: { error: 'no job j9' } });
    const missing = await post(`${base}/api/sections/jobs/actions/cancel`, {}, TOKEN);
    expect(missing.json).toMatchObject({ field: 'row' });
    expect((await post(`${base}/api/sections/jobs/actions/delete`, { row: 'j1' }, TOKEN)).json.error).toMatch(
      /no action delete; actions: cancel/,
    );
  });

  it('sends the shutdown phases and the final report, then ends the feed and closes', async () => {
    const { system, base, inspector } = await setup();
    const slow = system.spawn(
      defineActor<{ type: 'slow' }, undefined>({
        init: () => undefined,
        receive: () => new Promise((r) => setTimeout(r, 400)).then(() => undefined),
      }),
      { name: 'slow' },
    );
    slow.tell({ type: 'slow' });
    const feed = readFeed(`${base}/api/feed`, () => false, 20_000);
    await waitFor(() => inspector.clientCount === 1, 'the feed to connect');
    await system.shutdown();
    const { events, ended } = await feed;
    expect(ended).toBe(true);
    expect(events[events.length - 1]?.event).toBe('end');
    const all = frames(events);
    // The drain phase was live in at least one frame, because the slow actor held it.
    expect(all.some((f) => f.system.state === 'stopping.drain')).toBe(true);
    const last = all[all.length - 1];
    expect(last.system.state).toBe('stopped');
    expect(last.shutdown.report).toMatchObject({ cause: 'call', exitCode: 0 });
    expect(last.shutdown.transitions.map((t: { state: string }) => t.state)).toContain('stopping.drain');
    await expect(request(`${base}/`)).rejects.toThrow();
    expect(inspector.clientCount).toBe(0);
  });

  it('does not keep a process alive, even with a page connected to its feed', async () => {
    const script = fileURLToPath(new URL('./fixtures/unattended.ts', import.meta.url));
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', script, '1500'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d) => {
          out += d;
          const line = out.split('\n')[0];
          if (out.includes('\n') && line !== undefined) resolve(line);
        });
        child.on('close', (code) => reject(new Error(`exited (${code}) before printing its url`)));
      });
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      // The feed stays open until the process is gone.
      const feed = await readFeed(`${url}api/feed`, () => false, 30_000).catch((e: Error) => e);
      expect(await exited).toBe(0);
      expect(out).toContain('done');
      expect(feed).not.toBeInstanceOf(Error);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL'); // a failure must not leave it running
    }
  }, 40_000);
});
