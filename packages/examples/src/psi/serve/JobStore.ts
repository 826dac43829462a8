/**
 * The jobs on disk: one JSON file per job in `<dir>/jobs/`, each replaced
 * atomically (temporary file, then rename), so a crash never leaves half a
 * record and the service can always be restarted on its folder.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@troupe/actors';
import type { JobRecord } from './JobRecord.js';

const ID = /^j-\d{1,9}$/;

export class JobStore {
  private constructor(readonly dir: string) {}

  /** Open (and create) the store in `dir`. */
  static async open(dir: string): Promise<JobStore> {
    await mkdir(join(dir, 'jobs'), { recursive: true });
    return new JobStore(dir);
  }

  /** Every record, oldest id first. A file that is not a record is reported, not fatal. */
  async load(onBad: (file: string, why: string) => void): Promise<JobRecord[]> {
    const files = (await readdir(join(this.dir, 'jobs'))).filter((f) => f.endsWith('.json'));
    const out: JobRecord[] = [];
    for (const file of files) {
      try {
        const record = JSON.parse(await readFile(join(this.dir, 'jobs', file), 'utf8')) as JobRecord;
        if (typeof record?.id !== 'string' || !ID.test(record.id) || `${record.id}.json` !== file) {
          throw new Error('not a job record');
        }
        out.push(record);
      } catch (error) {
        onBad(file, (error as Error).message);
      }
    }
    return out.sort((a, b) => idNumber(a.id) - idNumber(b.id));
  }

  /** Write `record`, replacing the previous version. */
  async save(record: JobRecord): Promise<void> {
    await writeFileAtomic(join(this.dir, 'jobs', `${record.id}.json`), async (file) => {
      await file.write(`${JSON.stringify(record, null, 2)}\n`);
    });
  }
}

export function idNumber(id: string): number {
  return Number(id.slice(2));
}
