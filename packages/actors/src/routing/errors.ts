import { TroupeError } from '@troupe/core';

/** A pool had no routee to give a message to (all were stopped and removed). */
export class NoRouteesError extends TroupeError {
  constructor(
    readonly pool: string,
    readonly messageType: string,
  ) {
    super(
      'ERR_NO_ROUTEES',
      `Pool [${pool}] has no routees; message of type [${messageType}] was not delivered. ` +
        `Its routees stopped and were removed (whenRouteeStops: 'remove', or the replacement limit was reached); ` +
        `resize it with { type: 'troupe.pool.resize', size } to add routees again.`,
    );
  }
}

/** `pipeline.send` after `pipeline.stop()`, or after one of its stages terminated. */
export class PipelineClosedError extends TroupeError {
  constructor(
    readonly pipeline: string,
    readonly reason: string,
  ) {
    super(
      'ERR_PIPELINE_CLOSED',
      `Pipeline [${pipeline}] takes no more items: ${reason}. Build a new pipeline to go on.`,
    );
  }
}
