// Installs the workspace's dependencies with the pinned pnpm, fetched through npx,
// so that a fresh clone needs nothing but Node and npm. Idempotent and quick when
// everything is already installed.
//
// Quiet: pnpm's report (and npx's) is kept and shown only if the install fails, so
// every npm script's own output stands alone. A first install says one line, since
// it takes a while.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const first = !existsSync(new URL('../node_modules/.modules.yaml', import.meta.url));
if (first) process.stderr.write('bootstrap: installing dependencies with pnpm 12.4.2 (first run only)...\n');
const result = spawnSync('npx', ['-y', 'pnpm@12.4.2', 'install', '--frozen-lockfile', '--reporter=append-only'], {
  cwd: root,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'pipe'],
  // npx is npx.cmd on Windows, which only a shell finds.
  shell: process.platform === 'win32',
  env: { ...process.env, CI: process.env.CI ?? 'true' },
  maxBuffer: 64 * 1024 * 1024,
});
if (result.error !== undefined || result.status !== 0) {
  // pnpm's report goes to stderr, so a command's own stdout (e.g. psi --json) stays clean.
  process.stderr.write(result.stdout ?? '');
  process.stderr.write(result.stderr ?? '');
  const why = result.error !== undefined ? result.error.message : `exit code ${result.status ?? result.signal}`;
  process.stderr.write(`bootstrap: pnpm install failed (${why}); see its report above\n`);
  process.exit(result.status || 1);
}
if (first) process.stderr.write('bootstrap: done\n');
