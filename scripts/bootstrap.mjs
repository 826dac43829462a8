// Installs the workspace's dependencies with the pinned pnpm, fetched through npx,
// so that a fresh clone needs nothing but Node and npm. Idempotent and quick when
// everything is already installed.
import { execSync } from 'node:child_process';

const pnpm = 'npx -y pnpm@12.4.2';
execSync(`${pnpm} install --frozen-lockfile --reporter=append-only`, {
  // pnpm's report goes to stderr, so a command's own stdout (e.g. psi --json) stays clean.
  stdio: ['ignore', 2, 2],
  env: { ...process.env, CI: process.env.CI ?? 'true' },
});
