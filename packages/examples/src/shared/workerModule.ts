/**
 * The URL of a module next to `here` (pass `import.meta.url`), for
 * `workerActor(url, exportName)`: a worker thread imports the actor's module
 * by URL, so the URL must name the file that exists. Run from sources (as the
 * examples are, through tsx) that is `Name.ts`; from built output, `Name.js`.
 */
export function siblingModule(here: string, name: string): URL {
  const ext = here.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./${name}${ext}`, here);
}
