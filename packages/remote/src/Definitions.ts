/**
 * Actor definitions a node offers for remote deployment, by name (Akka's
 * remote deployment, without shipping code): a peer's `spawnAt(node, name)`
 * starts the definition registered here under `name`, supervised by the
 * peer. Functions cannot cross the network, so only names travel; and a
 * node never imports a module because a peer asked, so a peer can start
 * only what this node chose to offer.
 */
import type { ActorDefinition, Message, WorkerActorSpec } from '@troupe/core';
import { UnknownDefinitionError } from './errors.js';

/** The module of every spec made here: tells the host to look the export name up by name. */
export const DEFINITION_MODULE = 'troupe:definition';

const NAME = /^[A-Za-z_$][\w$.-]{0,127}$/;

// biome-ignore lint/suspicious/noExplicitAny: a definition of any protocol, state and input
type AnyDefinition = ActorDefinition<any, any, any>;

export class Definitions {
  private readonly byName = new Map<string, AnyDefinition>();

  constructor(
    /** This node's name, for error messages. */
    private readonly node: string,
  ) {}

  /** Offer `definition` under `name`. Throws a TypeError for a bad name or definition, or a name taken. */
  define(name: string, definition: AnyDefinition): void {
    if (typeof name !== 'string' || !NAME.test(name))
      throw new TypeError(
        `definition name must be 1-128 characters of [A-Za-z0-9_$.-], starting with a letter, _ or $; got ${JSON.stringify(name)}`,
      );
    if (
      definition === null ||
      typeof definition !== 'object' ||
      typeof definition.init !== 'function' ||
      typeof definition.receive !== 'function'
    )
      throw new TypeError(
        `definition ${name} must be an actor definition (defineActor(...)), got ${String(definition)}`,
      );
    const held = this.byName.get(name);
    if (held !== undefined && held !== definition)
      throw new TypeError(`a different definition is already registered as ${name} on node ${this.node}`);
    this.byName.set(name, definition);
  }

  /** The names offered, sorted. */
  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  /** The spec a peer's proxy sends to name the definition `name`. */
  static spec<M extends Message, I>(name: string): WorkerActorSpec<M, I> {
    if (typeof name !== 'string' || !NAME.test(name))
      throw new TypeError(`spawnAt: definition must be a definition name, got ${JSON.stringify(name)}`);
    return Object.freeze({ module: DEFINITION_MODULE, exportName: name });
  }

  /** The host's loader: only names registered here, never a module import. */
  readonly load = async (module: string, exportName: string): Promise<ActorDefinition<Message, unknown, unknown>> => {
    const found = module === DEFINITION_MODULE ? this.byName.get(exportName) : undefined;
    if (found === undefined) throw new UnknownDefinitionError(this.node, module, exportName, this.names());
    return found as ActorDefinition<Message, unknown, unknown>;
  };
}
