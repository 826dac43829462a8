import { workerActor } from '@troupe/core';
import type {
  CounterMsg,
  EchoMsg,
  FaultyMsg,
  HashMsg,
  InputProbeInput,
  InputProbeMsg,
  NurseryMsg,
  RelayMsg,
  SinkMsg,
  SleeperMsg,
} from '../fixtures/workers/actors.js';

const mod = new URL('../fixtures/workers/actors.ts', import.meta.url);
export const EchoSpec = workerActor<EchoMsg, { tag?: string } | undefined>(mod, 'Echo');
export const CounterSpec = workerActor<CounterMsg>(mod, 'Counter');
export const HasherSpec = workerActor<HashMsg>(mod, 'Hasher');
export const RelaySpec = workerActor<RelayMsg>(mod, 'Relay');
export const HogSpec = workerActor<{ type: 'hog' }>(mod, 'Hog');
export const BrokenInitSpec = workerActor<{ type: 'noop' }>(mod, 'BrokenInit');
export const JournalSpec = workerActor<{ type: 'note'; line: string }, { file: string }>(mod, 'Journal');
export const InputProbeSpec = workerActor<InputProbeMsg, InputProbeInput>(mod, 'InputProbe');
export const MissingSpec = workerActor<{ type: 'noop' }>(mod, 'DoesNotExist');
export const FaultySpec = workerActor<FaultyMsg>(mod, 'Faulty');
export const SleeperSpec = workerActor<SleeperMsg, { file: string }>(mod, 'Sleeper');
export const SinkSpec = workerActor<SinkMsg, { ms: number }>(mod, 'Sink');
export const NurserySpec = workerActor<NurseryMsg>(mod, 'Nursery');
export const BadParentSpec = workerActor<{ type: 'noop' }>(mod, 'BadParent');

/** The rejection of `p` (fails if it resolves), typed loosely for field assertions. */
// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary error fields
export function failure(p: Promise<unknown>): Promise<any> {
  return p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (e) => e,
  );
}
