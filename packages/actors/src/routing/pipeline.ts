import {
  type ActorContext,
  type ActorDefinition,
  type ActorMetrics,
  type ActorRef,
  ActorSystem,
  defineActor,
  type Message,
  resume,
  SupervisionStrategy,
} from '@troupe/core';
import { describe } from './describe.js';
import { PipelineClosedError } from './errors.js';

/** How values travel between the stage actors of a pipeline. */
export interface PipelineItem<T = unknown> {
  readonly type: 'troupe.pipeline.item';
  readonly value: T;
}

/**
 * A stage as a plain function: takes a value, returns the next one (or a
 * promise of it). Returning `undefined` drops the value (a filter).
 */
// biome-ignore lint/suspicious/noExplicitAny: stages are chained at run time; the ends are typed by pipeline<In>
export type StageFn = (value: any) => unknown;

/**
 * What a stage runs: a function; or an actor that answers each value (as a
 * message) with `ctx.reply(next)`: a ref (a pool, a worker actor...) or a
 * definition, spawned as the stage's child.
 */
// biome-ignore lint/suspicious/noExplicitAny: any protocol
export type StageRun = StageFn | ActorRef<any> | ActorDefinition<any, any, any>;

/** A stage with its own settings. */
export interface StageSpec {
  run: StageRun;
  /** Shown in the stage actor's name and path. */
  name?: string;
  /**
   * Values handled at once, their outputs still passed on in input order.
   * Worth raising for an async function (I/O) or an actor stage backed by a
   * pool or a worker. Default 1.
   */
  parallelism?: number;
  /** Mailbox capacity of this stage; default the pipeline's `capacity`. */
  capacity?: number;
  /** Ask timeout for an actor stage; default the system's `askTimeoutMs`. */
  timeoutMs?: number;
}

/** A stage: what it runs, or a {@link StageSpec}. */
export type Stage = StageRun | StageSpec;

/** Options of {@link pipeline}. */
export interface PipelineOptions {
  /** Prefix of the stage actors' names (`<name>.0`, `<name>.1.parse`...); default `pipeline`. Unique among the parent's children. */
  name?: string;
  /** Mailbox capacity of each stage (overflow `backpressure`); default 64. */
  capacity?: number;
  /** Where the last stage's outputs go, by `await to.send(output)`; without it they are dropped after the last stage. */
  // biome-ignore lint/suspicious/noExplicitAny: any protocol
  to?: ActorRef<any>;
  /**
   * How the parent supervises the stage actors. Default `resume()`: a value
   * whose stage throws is dropped (counted in `failed`, logged by the runtime)
   * and the stage goes on with the next one.
   */
  supervision?: SupervisionStrategy;
}

/** Counters of a pipeline's values. */
export interface PipelineStats {
  /** Values given to `send` (and not refused). */
  accepted: number;
  /** Values that left the last stage (and were delivered to `to`). */
  completed: number;
  /** Values a stage dropped by returning `undefined`. */
  filtered: number;
  /** Values whose stage threw (or whose actor stage failed). */
  failed: number;
  /** Accepted values still on their way. */
  inFlight: number;
}

/** A running pipeline. */
export interface Pipeline<In = unknown> {
  readonly name: string;
  /** The stage actors, upstream first; `system.metrics(ref)` works on each. */
  readonly stages: readonly ActorRef<PipelineItem>[];
  /**
   * Give a value to the first stage. Resolves once it is in the first stage's
   * mailbox; waits while that mailbox is full. At most `capacity` senders may
   * wait at once; beyond that `send` rejects with `MailboxFullError`, so even a
   * producer that does not await cannot grow memory without bound.
   */
  send(value: In): Promise<void>;
  /** Metrics of each stage actor, upstream first. */
  metrics(): ActorMetrics[];
  stats(): PipelineStats;
  /** Resolves when no accepted value is in flight (or a stage has terminated, so none can move). */
  whenIdle(): Promise<void>;
  /** Refuse new values, wait for those in flight, then stop the stages upstream first. */
  stop(): Promise<void>;
}

// biome-ignore lint/suspicious/noExplicitAny: any parent
type Parent = ActorSystem | ActorContext<any, any>;

interface StageFailed {
  readonly type: 'troupe.pipeline.stage-failed';
  readonly error: unknown;
}

interface StageState {
  call: (value: unknown) => unknown;
  outstanding: number;
  /** Settles when every earlier value of this stage has been passed on (keeps the order with parallelism). */
  tail: Promise<void>;
  wake: (() => void) | undefined;
}

const ITEM = 'troupe.pipeline.item';

/**
 * Compose stages into a pipeline of actors, with bounded mailboxes and
 * backpressure end to end: every stage has a `backpressure` mailbox of
 * `capacity` and passes each output on with `await next.send(...)`, so a slow
 * stage stalls the ones before it, and finally the producer awaiting
 * `pipeline.send(...)`. Memory stays bounded by the capacities whatever the
 * producer does (scenario 13 of RELIABILITY.md).
 *
 * The stage actors are spawned under `parent` (the system, or an actor's
 * `ctx`), supervised by its strategy for them (`options.supervision`).
 *
 * @example
 * const p = pipeline<string>(system, [
 *   (line: string) => JSON.parse(line),
 *   (row: Row) => (row.valid ? row : undefined), // a filter
 *   { run: hasherPool, parallelism: 4 }, // an actor stage: asked, in order
 * ], { name: 'ingest', capacity: 128, to: writer });
 * for await (const line of lines) await p.send(line); // waits when the stages are full
 * await p.stop();
 */
export function pipeline<In = unknown>(
  parent: Parent,
  stages: readonly Stage[],
  options: PipelineOptions = {},
): Pipeline<In> {
  if (parent === null || typeof parent !== 'object' || typeof (parent as { spawn?: unknown }).spawn !== 'function') {
    throw new TypeError(`pipeline: parent must be the ActorSystem or an actor's ctx, got ${describe(parent)}`);
  }
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`pipeline: options must be an object, got ${describe(options)}`);
  }
  const { name = 'pipeline', capacity = 64, to, supervision = resume() } = options;
  if (typeof name !== 'string' || name.length === 0 || name.includes('/') || name.startsWith('$')) {
    throw new TypeError(
      `pipeline: name must be a non-empty string without '/' and not starting with '$', got ${describe(name)}`,
    );
  }
  checkPositiveInt(capacity, 'pipeline: capacity');
  if (to !== undefined && (to === null || typeof to !== 'object' || typeof to.send !== 'function')) {
    throw new TypeError(`pipeline: to must be an ActorRef, got ${describe(to)}`);
  }
  if (!(supervision instanceof SupervisionStrategy)) {
    throw new TypeError(
      `pipeline: supervision must be a SupervisionStrategy (resume(), restart()...), got ${describe(supervision)}`,
    );
  }
  if (!Array.isArray(stages) || stages.length === 0) {
    throw new TypeError(`pipeline: stages must be a non-empty array, got ${describe(stages)}`);
  }
  const specs = stages.map((s, i) => toSpec(s, i));

  const system = parent instanceof ActorSystem ? parent : parent.system;
  const stats = { accepted: 0, completed: 0, filtered: 0, failed: 0 };
  const inFlight = () => stats.accepted - stats.completed - stats.filtered - stats.failed;
  let idleWaiters: (() => void)[] = [];
  let closed: string | undefined;
  const settle = () => {
    if (inFlight() > 0 || idleWaiters.length === 0) return;
    const ws = idleWaiters;
    idleWaiters = [];
    for (const w of ws) w();
  };

  // Spawn downstream first so each stage knows where its outputs go.
  const refs: ActorRef<PipelineItem>[] = new Array(specs.length);
  for (let i = specs.length - 1; i >= 0; i--) {
    const spec = specs[i] as ResolvedStage;
    const next = refs[i + 1];
    const emit = async (out: unknown): Promise<void> => {
      if (out === undefined) {
        stats.filtered++;
        settle();
      } else if (next !== undefined) {
        await next.send({ type: ITEM, value: out });
      } else {
        if (to !== undefined) await to.send(out);
        stats.completed++;
        settle();
      }
    };
    const failed = (error: unknown) => {
      stats.failed++;
      settle();
      return error;
    };
    const def = stageActor(spec, emit, failed, capacity);
    const stageName = `${name}.${i}${spec.name === undefined ? '' : `.${spec.name}`}`;
    refs[i] = parent.spawn(def, { name: stageName, supervision }) as ActorRef<PipelineItem>;
  }
  for (const ref of refs) {
    void system.whenTerminated(ref).then(() => {
      closed ??= `stage ${ref.path} has terminated`;
      const ws = idleWaiters;
      idleWaiters = [];
      for (const w of ws) w();
    });
  }
  const first = refs[0] as ActorRef<PipelineItem>;
  const whenIdle = (): Promise<void> => {
    if (inFlight() === 0 || refs.some((r) => !r.isAlive)) return Promise.resolve();
    return new Promise((resolve) => idleWaiters.push(resolve));
  };

  return {
    name,
    stages: refs,
    send(value: In): Promise<void> {
      if (closed !== undefined) return Promise.reject(new PipelineClosedError(name, closed));
      stats.accepted++;
      return first.send({ type: ITEM, value }).catch((error: unknown) => {
        stats.accepted--;
        settle();
        throw error;
      });
    },
    metrics: () => refs.map((r) => system.metrics(r)).filter((m): m is ActorMetrics => m !== undefined),
    stats: () => ({ ...stats, inFlight: inFlight() }),
    whenIdle,
    async stop(): Promise<void> {
      closed ??= 'it was stopped';
      await whenIdle();
      for (const ref of refs) {
        await (parent instanceof ActorSystem ? parent.stop(ref) : parent.stop(ref));
      }
    },
  };
}

/** The actor of one stage. */
function stageActor(
  spec: ResolvedStage,
  emit: (out: unknown) => Promise<void>,
  failed: (error: unknown) => unknown,
  defaultCapacity: number,
): ActorDefinition<PipelineItem | StageFailed, StageState> {
  const { run, parallelism } = spec;
  const askOptions = spec.timeoutMs === undefined ? undefined : { timeoutMs: spec.timeoutMs };

  /** One value through this stage, start to hand-over; rejects (after counting) if it fails. */
  const handle = async (call: (v: unknown) => unknown, value: unknown): Promise<void> => {
    try {
      await emit(await call(value));
    } catch (error) {
      throw failed(error);
    }
  };

  return defineActor<PipelineItem | StageFailed, StageState>({
    name: `pipeline stage ${spec.name ?? ''}`.trim(),
    mailbox: { capacity: spec.capacity ?? defaultCapacity, overflow: 'backpressure' },
    init: (ctx) => {
      let call: (value: unknown) => unknown;
      if (typeof run === 'function') {
        call = run;
      } else if (isDefinition(run)) {
        // Room for every value in flight, so its asks never wait on its mailbox.
        const child = ctx.spawn(run, { name: 'actor', mailbox: { capacity: parallelism, overflow: 'backpressure' } });
        call = (value) => child.ask(value as Message, askOptions);
      } else {
        call = (value) => run.ask(value as Message, askOptions);
      }
      return { call, outstanding: 0, tail: Promise.resolve(), wake: undefined };
    },
    receive: (state, message, ctx) => {
      if (message.type === 'troupe.pipeline.stage-failed') throw message.error;
      if (parallelism === 1) return handle(state.call, message.value);
      // Up to `parallelism` values computed at once; their hand-overs are chained
      // on `tail` so they leave in input order. A failure cannot throw out of this
      // receive (it happens later), so it comes back as a message and fails the
      // stage then, handing the decision to the supervisor like any other failure.
      state.outstanding++;
      let computed: Promise<unknown>;
      try {
        computed = Promise.resolve(state.call(message.value));
      } catch (error) {
        computed = Promise.reject(error);
      }
      // Consumed below once the earlier values are through; mark it handled now
      // so an early rejection is not reported as unhandled meanwhile.
      computed.catch(() => {});
      const done = state.tail
        .then(() => computed)
        .then(emit)
        .catch((error: unknown) => {
          failed(error);
          const report: StageFailed = { type: 'troupe.pipeline.stage-failed', error };
          ctx.self.send(report).catch(() => {}); // the stage is stopping: the failure is counted already
        })
        .finally(() => {
          state.outstanding--;
          const wake = state.wake;
          state.wake = undefined;
          wake?.();
        });
      state.tail = done;
      if (state.outstanding < parallelism) return;
      return new Promise<void>((resolve) => {
        state.wake = resolve;
      });
    },
  });
}

type ResolvedStage = StageSpec & { parallelism: number };

function toSpec(stage: Stage, i: number): ResolvedStage {
  const spec: StageSpec = isSpec(stage) ? stage : { run: stage };
  const where = `pipeline: stage ${i}`;
  const { run, name, parallelism = 1, capacity, timeoutMs } = spec;
  const isRef = run !== null && typeof run === 'object' && typeof (run as ActorRef).ask === 'function';
  if (typeof run !== 'function' && !isRef && !isDefinition(run)) {
    throw new TypeError(
      `${where} must be a function (value) => next, an ActorRef or an actor definition that replies, or { run, ... }; got ${describe(run)}`,
    );
  }
  if (name !== undefined && (typeof name !== 'string' || name.length === 0 || name.includes('/'))) {
    throw new TypeError(`${where}: name must be a non-empty string without '/', got ${describe(name)}`);
  }
  checkPositiveInt(parallelism, `${where}: parallelism`);
  if (capacity !== undefined) checkPositiveInt(capacity, `${where}: capacity`);
  if (timeoutMs !== undefined && (!(timeoutMs > 0) || !Number.isFinite(timeoutMs))) {
    throw new TypeError(`${where}: timeoutMs must be a positive finite number, got ${describe(timeoutMs)}`);
  }
  return { ...spec, parallelism };
}

function isSpec(stage: Stage): stage is StageSpec {
  return stage !== null && typeof stage === 'object' && 'run' in stage;
}

// biome-ignore lint/suspicious/noExplicitAny: any protocol
function isDefinition(run: unknown): run is ActorDefinition<any, any, any> {
  return (
    run !== null &&
    typeof run === 'object' &&
    typeof (run as { init?: unknown }).init === 'function' &&
    typeof (run as { receive?: unknown }).receive === 'function'
  );
}

function checkPositiveInt(n: unknown, what: string): void {
  if (!Number.isInteger(n) || (n as number) < 1)
    throw new TypeError(`${what} must be a positive integer, got ${describe(n)}`);
}
