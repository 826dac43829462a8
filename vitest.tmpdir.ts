/**
 * Vitest global setup: every test file, and every process a test starts, makes
 * its temporary files under one fresh folder per suite run (`TMPDIR`, which
 * `os.tmpdir()` reads), removed when the run ends. Tests still clean up after
 * themselves where they check cleanup; this keeps a run from leaving hundreds of
 * folders in /tmp when a test that does not (or a killed child) leaves some.
 * Set `TROUPE_KEEP_TEST_TMP=1` to keep it for a post-mortem.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'troupe-test-run-'));
  // Like /tmp itself: tests run some children as another user (nobody), who must be able to make folders here.
  chmodSync(root, 0o1777);
  process.env.TMPDIR = root;
  return () => {
    if (process.env.TROUPE_KEEP_TEST_TMP === '1') {
      process.stdout.write(`test temp files kept in ${root}\n`);
      return;
    }
    rmSync(root, { recursive: true, force: true });
  };
}
