import type { ActorNode, ActorSystem, Introspection, IntrospectionSnapshot } from '@troupe/core';
import { messageType, payloadText, revealedTypes } from './payloads.js';
import type { InspectorSection, SectionView } from './Section.js';

/** One actor row of a frame. */
export interface ActorRow {
  path: string;
  parent: string;
  name: string;
  status: ActorNode['status'];
  kind: string | null;
  host: number | null;
  processed: number;
  msgsPerSec: number;
  failed: number;
  restarts: number;
  depth: number;
  highWater: number;
  busy: boolean;
  inFlight: number;
  p50: number;
  p99: number;
  mean: number;
  samples: number;
  lastError: { name: string; message: string; at: number; directive: string } | null;
}

/** A point of the charts. */
export interface HistoryPoint {
  /** Epoch ms. */
  at: number;
  msgsPerSec: number;
  mailboxDepth: number;
  maxDepth: number;
  deadLettersPerSec: number;
}

/** What the page receives once per interval (and `GET /api/snapshot` returns). Plain JSON, nothing secret. */
export interface Frame {
  v: 1;
  at: number;
  system: { name: string; state: string; uptimeMs: number };
  totals: {
    actors: number;
    msgsPerSec: number;
    mailboxDepth: number;
    restarts: number;
    deadLetters: number;
    deadLettersPerSec: number;
    workerThreads: number;
    outstandingAsks: number;
  };
  actors: ActorRow[];
  /** Actors beyond the listed ones (the list is capped). */
  hiddenActors: number;
  stopped: IntrospectionSnapshot['stopped'];
  workers: IntrospectionSnapshot['workers'];
  deadLetters: {
    total: number;
    byReason: { reason: string; count: number; perSec: number }[];
    recent: { at: number; recipient: string; reason: string; type: string; payload?: string }[];
  };
  shutdown: {
    transitions: IntrospectionSnapshot['transitions'];
    report: {
      cause: string;
      exitCode: number;
      durationMs: number;
      phases: { phase: string; durationMs: number; timedOut: boolean; hung: string[] }[];
      processed: number;
      deadLettered: number;
      rejected: number;
      pendingAsksRejected: number;
      abandoned: string[];
    } | null;
  };
  sections: { id: string; title: string; view: SectionView | { kind: 'error'; message: string } }[];
  point: HistoryPoint;
  /** Whether actions are possible (a token was configured); the token itself is never sent. */
  actions: boolean;
}

const RECENT_LETTERS = 12;

/**
 * Samples the system once per interval into frames, and keeps the chart
 * history. It reads counters through {@link Introspection}; message payloads
 * reach a frame only for the types an actor's definition revealed.
 * @internal
 */
export class Feed {
  private readonly history: HistoryPoint[] = [];
  private prevProcessed = new Map<string, number>();
  private prevTotal: number | undefined;
  private prevDead: Map<string, number> | undefined;
  private prevDeadTotal = 0;
  private prevAt = 0;
  /** Actor path → payload types its definition reveals (kept after it stops, for late dead letters). */
  private readonly reveals = new Map<string, ReadonlySet<string>>();
  private readonly startedAt = performance.now();
  last: Frame | undefined;

  constructor(
    private readonly system: ActorSystem,
    private readonly view: Introspection,
    private readonly sections: () => readonly InspectorSection[],
    private readonly options: { maxActors: number; historyPoints: number; actions: boolean },
  ) {}

  /** Chart points, oldest first. */
  points(): readonly HistoryPoint[] {
    return this.history;
  }

  /** Take a sample and build the frame. */
  sample(): Frame {
    const t = performance.now();
    const dt = this.prevAt === 0 ? 0 : (t - this.prevAt) / 1000;
    this.prevAt = t;
    const rate = (d: number) => (dt > 0 ? Math.max(0, d) / dt : 0);
    const s = this.view.snapshot({ maxActors: this.options.maxActors });
    // The system clock is monotonic; the page shows wall-clock times.
    const offset = Date.now() - this.system.clock.now();
    const epoch = (at: number) => Math.round(at + offset);

    const processed = new Map<string, number>();
    let restarts = 0;
    let maxDepth = 0;
    const actors: ActorRow[] = s.actors.map((a) => {
      processed.set(a.id, a.processed);
      restarts += a.restarts;
      if (a.mailboxDepth > maxDepth) maxDepth = a.mailboxDepth;
      const prev = this.prevProcessed.get(a.id);
      const types = revealedTypes(a.definition);
      if (types !== undefined) this.remember(a.path, types);
      return {
        path: a.path,
        parent: a.parent,
        name: a.path.slice(a.path.lastIndexOf('/') + 1),
        status: a.status,
        kind: a.kind ?? null,
        host: a.workerHost ?? null,
        processed: a.processed,
        msgsPerSec: prev === undefined ? 0 : rate(a.processed - prev),
        failed: a.failed,
        restarts: a.restarts,
        depth: a.mailboxDepth,
        highWater: a.mailboxHighWater,
        busy: a.busy,
        inFlight: a.inFlight,
        p50: a.handlingMs.p50,
        p99: a.handlingMs.p99,
        mean: a.handlingMs.mean,
        samples: a.handlingMs.samples,
        lastError: a.lastError === undefined ? null : { ...a.lastError, at: epoch(a.lastError.at) },
      };
    });
    this.prevProcessed = processed;

    const msgsPerSec = this.prevTotal === undefined ? 0 : rate(s.processedTotal - this.prevTotal);
    this.prevTotal = s.processedTotal;
    const dead = new Map(Object.entries(s.deadLetters.byReason));
    const byReason = [...dead].map(([reason, count]) => ({
      reason,
      count,
      perSec: this.prevDead === undefined ? 0 : rate(count - (this.prevDead.get(reason) ?? 0)),
    }));
    byReason.sort((a, b) => b.count - a.count);
    const deadLettersPerSec = this.prevDead === undefined ? 0 : rate(s.deadLetters.total - this.prevDeadTotal);
    this.prevDead = dead;
    this.prevDeadTotal = s.deadLetters.total;

    const point: HistoryPoint = {
      at: Date.now(),
      msgsPerSec,
      mailboxDepth: s.mailboxTotal,
      maxDepth,
      deadLettersPerSec,
    };
    this.history.push(point);
    if (this.history.length > this.options.historyPoints) this.history.shift();

    const report = s.shutdown;
    const frame: Frame = {
      v: 1,
      at: point.at,
      system: { name: s.system, state: s.state, uptimeMs: performance.now() - this.startedAt },
      totals: {
        actors: s.actorCount,
        msgsPerSec,
        mailboxDepth: s.mailboxTotal,
        restarts,
        deadLetters: s.deadLetters.total,
        deadLettersPerSec,
        workerThreads: s.workers.slots.filter((w) => w.alive).length,
        outstandingAsks: s.outstandingAsks,
      },
      actors,
      hiddenActors: s.actorCount - actors.length,
      stopped: s.stopped.map((x) => ({ ...x, at: epoch(x.at) })),
      workers: { ...s.workers, exits: s.workers.exits.map((x) => ({ ...x, at: epoch(x.at) })) },
      deadLetters: { total: s.deadLetters.total, byReason, recent: this.recentLetters(epoch) },
      shutdown: {
        transitions: s.transitions.map((x) => ({ ...x, at: epoch(x.at) })),
        report:
          report === undefined
            ? null
            : {
                cause: report.cause,
                exitCode: report.exitCode,
                durationMs: report.durationMs,
                phases: report.phases.map((p) => ({ ...p, hung: [...p.hung] })),
                processed: report.processed,
                deadLettered: report.deadLettered,
                rejected: report.rejected,
                pendingAsksRejected: report.pendingAsksRejected,
                abandoned: [...report.abandoned],
              },
      },
      sections: this.collectSections(),
      point,
      actions: this.options.actions,
    };
    this.last = frame;
    return frame;
  }

  private remember(path: string, types: ReadonlySet<string>): void {
    if (!this.reveals.has(path) && this.reveals.size >= 10_000) {
      const oldest = this.reveals.keys().next().value;
      if (oldest !== undefined) this.reveals.delete(oldest);
    }
    this.reveals.set(path, types);
  }

  private recentLetters(epoch: (at: number) => number): Frame['deadLetters']['recent'] {
    const all = this.system.deadLetters.recent();
    const out: Frame['deadLetters']['recent'] = [];
    for (let i = all.length - 1; i >= 0 && out.length < RECENT_LETTERS; i--) {
      const l = all[i];
      if (l === undefined) continue;
      const type = messageType(l.message);
      const row: Frame['deadLetters']['recent'][number] = {
        at: epoch(l.at),
        recipient: l.recipient,
        reason: l.reason,
        type,
      };
      if (this.reveals.get(l.recipient)?.has(type)) row.payload = payloadText(l.message);
      out.push(row);
    }
    return out;
  }

  private collectSections(): Frame['sections'] {
    return this.sections().map((section) => {
      try {
        return { id: section.id, title: section.title, view: section.collect() };
      } catch (error) {
        const message = error instanceof Error ? `${error.name}: ${error.message}` : 'the section failed';
        return { id: section.id, title: section.title, view: { kind: 'error' as const, message } };
      }
    });
  }
}
