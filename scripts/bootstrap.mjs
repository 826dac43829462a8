// Installs the workspace's dependencies with the pinned pnpm, fetched through npx,
// so that a fresh clone needs nothing but Node and npm. Idempotent and quick when
// everything is already installed.
import { execSync } from 'node:child_process';

const pnpm = 'npx -y pnpm@12.4.2';
execSync(`${pnpm} install --frozen-lockfile --reporter=append-only`, {
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, CI: process.env.CI ?? 'true' },
});
