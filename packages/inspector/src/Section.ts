/**
 * How a cell of a contributed table is drawn: `text` as is; `number` with
 * thousands separators; `bytes` (1.2 MB); `rate` (per second); `ms`; `age`
 * (milliseconds ago, e.g. heartbeat age); `time` (epoch ms, local clock);
 * `progress` (a number 0..1 as a bar); `status` (a coloured pill: `running`,
 * `done`, `failed`, `queued`, `cancelled`, `interrupted`, `up`, `down`...).
 */
export type ColumnFormat = 'text' | 'number' | 'bytes' | 'rate' | 'ms' | 'age' | 'time' | 'progress' | 'status';

/** A column of a contributed table. */
export interface SectionColumn {
  key: string;
  label: string;
  format?: ColumnFormat;
}

/** A row of a contributed table. `actions` names the section's actions offered on this row. */
export interface SectionRow {
  id: string;
  cells: Record<string, string | number | null>;
  actions?: readonly string[];
}

/** What a section shows: a table, or a few labelled numbers. Plain data only. */
export type SectionView =
  | { kind: 'table'; columns: readonly SectionColumn[]; rows: readonly SectionRow[]; empty?: string; note?: string }
  | {
      kind: 'stats';
      items: readonly { label: string; value: string | number; format?: ColumnFormat }[];
      note?: string;
    };

/**
 * A panel another package adds to the inspector page (the PSI job service
 * adds its jobs, `@troupe/remote` its nodes). `collect` runs once per frame
 * on the main thread, so keep it cheap, and return only what is safe to show:
 * counts, states, rates, bytes; never keys, rows or message payloads.
 * Actions change the system, so the inspector runs them only for a request
 * that carries the token.
 *
 * @example
 * inspector.addSection({
 *   id: 'queue', title: 'Queue',
 *   collect: () => ({ kind: 'stats', items: [{ label: 'waiting', value: queue.length }] }),
 * });
 */
export interface InspectorSection {
  /** Unique on the page; `nodes` fills the page's nodes slot. Letters, digits, `-` and `_`. */
  id: string;
  title: string;
  collect(): SectionView;
  /** Row actions by name (e.g. `cancel`); a throw or rejection is reported to the caller as a 409 with its message. */
  actions?: Readonly<Record<string, (rowId: string) => unknown>>;
}

/** A cluster node as the nodes section shows it. */
export interface NodeInfo {
  id: string;
  address?: string;
  status: 'up' | 'suspect' | 'down' | 'leaving' | string;
  /** Milliseconds since its last heartbeat. */
  heartbeatAgeMs: number | undefined;
  /** Failure-detector suspicion (phi), if the transport computes one. */
  phi?: number;
  actors?: number;
  /** This process's own node (shown as `(this node)`). */
  self?: boolean;
}

/**
 * The page's nodes slot, filled from `list` (a cluster transport such as
 * `@troupe/remote` supplies it): one row per node with its heartbeat age.
 * `@troupe/remote`'s `cluster.nodes()` already has this shape.
 *
 * @example
 * const cluster = await joinCluster(system, { servers, cluster: 'shop', node: 'a' });
 * inspector.addSection(nodesSection(() => cluster.nodes()));
 */
export function nodesSection(list: () => readonly NodeInfo[]): InspectorSection {
  return {
    id: 'nodes',
    title: 'Nodes',
    collect: () => {
      const nodes = list();
      const columns: SectionColumn[] = [
        { key: 'id', label: 'node' },
        { key: 'address', label: 'address' },
        { key: 'status', label: 'status', format: 'status' },
        { key: 'heartbeat', label: 'heartbeat age', format: 'age' },
      ];
      // Columns only a transport that computes them fills (no column of dashes otherwise).
      if (nodes.some((n) => n.phi !== undefined)) columns.push({ key: 'phi', label: 'phi', format: 'number' });
      if (nodes.some((n) => n.actors !== undefined)) columns.push({ key: 'actors', label: 'actors', format: 'number' });
      return {
        kind: 'table',
        columns,
        rows: nodes.map((n) => ({
          id: n.id,
          cells: {
            id: n.self === true ? `${n.id} (this node)` : n.id,
            address: n.address ?? null,
            status: n.status,
            heartbeat: n.heartbeatAgeMs ?? null,
            phi: n.phi ?? null,
            actors: n.actors ?? null,
          },
        })),
        empty: 'no other nodes',
      };
    },
  };
}
