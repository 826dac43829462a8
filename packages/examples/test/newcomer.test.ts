/**
 * A newcomer follows the README from top to bottom (issue 14, item 10): the
 * twenty lines run as printed, npm scripts print only their own output, the
 * guarantees the README links are in the repository, and `npm run demo` in
 * packages/examples is the psi demo.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killLeftovers, repoRoot, start } from './helpers/psi.js';

afterEach(killLeftovers);

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const pnpmNoise = /Lockfile|Done in \d|Scope: all|supply-chain|Already up to date|Progress: resolved/;

describe('a newcomer on a fresh clone', { timeout: 120_000 }, () => {
  it("finds the README's twenty lines in packages/examples/src/adder/main.ts, word for word", () => {
    const block = /## Twenty lines\n[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    expect(readFileSync(join(repoRoot, 'packages/examples/src/adder/main.ts'), 'utf8')).toBe(block);
    expect(readme).toMatch(/run it from the repository root with `npm run adder`/);
  });

  it('runs them with `npm run adder`: prints 40, exits 0, and no pnpm lines', async () => {
    const run = start('npm', ['run', 'adder'], { cwd: repoRoot });
    expect(await run.code, run.err()).toBe(0);
    expect(run.out()).toMatch(/^40$/m);
    expect(run.err()).not.toMatch(pnpmNoise);
    expect(run.err()).not.toMatch(/ERR_MODULE_NOT_FOUND/);
  });

  it('gets nothing on stderr from the install step when everything is installed', async () => {
    const run = start(process.execPath, ['scripts/bootstrap.mjs'], { cwd: repoRoot });
    expect(await run.code).toBe(0);
    expect(run.err()).toBe('');
    expect(run.out()).toBe('');
  });

  it('finds the guarantees the README links in the repository, not outside it', () => {
    expect(readme).not.toMatch(/\.\.\/shared\//);
    expect(readme).toMatch(/\[`docs\/RELIABILITY\.md`\]\(docs\/RELIABILITY\.md\)/);
    const doc = readFileSync(join(repoRoot, 'docs/RELIABILITY.md'), 'utf8');
    // Every test file the document names exists.
    const named = [...doc.matchAll(/`((?:core|actors|examples)\/test\/[\w/.-]+\.test\.ts)`/g)].map(
      (m) => m[1] as string,
    );
    expect(named.length).toBeGreaterThan(10);
    for (const f of named) expect(existsSync(join(repoRoot, 'packages', f)), f).toBe(true);
  });

  it('gets the psi demo from `npm run demo` in packages/examples too', async () => {
    const run = start('npm', ['run', '-s', 'demo', '--', '--rows', '2000', '--threads', '2', '--json'], {
      cwd: join(repoRoot, 'packages/examples'),
    });
    expect(await run.code, run.err()).toBe(0);
    expect(JSON.parse(run.out().trim())).toMatchObject({ verified: true, left: { rows: 2000 } });
  });
});
