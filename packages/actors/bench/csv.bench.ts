/**
 * CSV reader throughput on a generated file (1M rows by default).
 *
 *   cd packages/actors && pnpm bench:csv [--rows 1000000] [--chunk bytes]
 *
 * The file has realistic columns (id, e-mail, name with some quoted commas
 * and quotes, city with some non-ASCII, amount, date). Reported: rows/s and
 * MB/s for reading every field, for writing rows through CsvWriter to an
 * atomic file, and the reader's peak RSS (it should not grow with the file).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CsvReader, CsvWriter, writeFileAtomic } from '../src/index.js';

function arg(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : Number(process.argv[i + 1]);
}
const rows = arg('rows') ?? 1_000_000;
const chunkSize = arg('chunk');
const dir = await mkdtemp(join(tmpdir(), 'troupe-csv-bench-'));
const path = join(dir, 'input.csv');
const cities = ['Paris', 'Zürich', 'São Paulo', 'Kraków', 'New York', 'Oslo'];

try {
  let t = performance.now();
  await writeFileAtomic(path, async (file) => {
    const csv = new CsvWriter(file);
    await csv.writeRecord(['id', 'email', 'name', 'city', 'amount', 'date']);
    for (let r = 0; r < rows; r++) {
      const name = r % 10 === 0 ? `Smith, "J${r}"` : `Person ${r}`;
      await csv.writeRecord([
        String(r),
        `user${r}@example.com`,
        name,
        cities[r % cities.length]!,
        (r * 7.31).toFixed(2),
        `2024-0${(r % 9) + 1}-1${r % 10}`,
      ]);
    }
    await csv.flush();
  });
  const writeMs = performance.now() - t;
  const size = (await stat(path)).size;

  const rssBefore = process.memoryUsage().rss;
  let peakRss = rssBefore;
  t = performance.now();
  const reader = await CsvReader.open(path, chunkSize ? { chunkSize } : {});
  const email = reader.columnIndex('email');
  let count = 0;
  let chars = 0;
  for await (const batch of reader.batches()) {
    count += batch.length;
    for (const record of batch) chars += record.fields[email]!.length;
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  const readMs = performance.now() - t;
  if (count !== rows || chars === 0) throw new Error(`read ${count} rows, expected ${rows}`);

  const mb = size / 1e6;
  console.log(`CSV, ${rows.toLocaleString('en-US')} rows, ${mb.toFixed(1)} MB, Node ${process.version}`);
  console.log(
    `read  ${Math.round(rows / (readMs / 1000))
      .toLocaleString('en-US')
      .padStart(
        10,
      )} rows/s  ${(mb / (readMs / 1000)).toFixed(0).padStart(4)} MB/s  ${(readMs / 1000).toFixed(2)} s  peak RSS +${((peakRss - rssBefore) / 2 ** 20).toFixed(0)} MiB`,
  );
  console.log(
    `write ${Math.round(rows / (writeMs / 1000))
      .toLocaleString('en-US')
      .padStart(
        10,
      )} rows/s  ${(mb / (writeMs / 1000)).toFixed(0).padStart(4)} MB/s  ${(writeMs / 1000).toFixed(2)} s  (CsvWriter + AtomicFileWriter, fsync included)`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
