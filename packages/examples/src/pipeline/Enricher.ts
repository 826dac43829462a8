import { defineActor } from '@troupe/core';
import type { EnrichedReading, EnrichMsg, FlushResult, HashStageMsg, StageInput } from './protocol.js';

/** Where each known sensor is installed, and its calibration offset in °C. */
export const sensorRegistry: ReadonlyMap<string, { site: string; offsetC: number }> = new Map(
  Array.from({ length: 40 }, (_, i) => [
    `s-${i}`,
    { site: ['north', 'south', 'east', 'west'][i % 4] as string, offsetC: ((i % 5) - 2) / 10 },
  ]),
);

type Reading = Extract<EnrichMsg, { type: 'reading' }>;

/** A reading placed at its site in calibrated °C, or undefined for an unknown sensor. */
export function enrichReading(r: Reading): EnrichedReading | undefined {
  const sensor = sensorRegistry.get(r.sensor);
  if (sensor === undefined) return undefined;
  const celsius = (r.unit === 'F' ? ((r.value - 32) * 5) / 9 : r.value) + sensor.offsetC;
  return { type: 'enriched', ts: r.ts, site: sensor.site, celsius };
}

interface EnricherState {
  readonly enriched: number;
  readonly unknownSensor: number;
}

/**
 * Stage 2: look the sensor up, convert to calibrated °C, and pass the reading
 * on to the next stage, the aggregator or the hash stage (awaiting room).
 * Readings from unknown sensors are counted and dropped.
 */
export const Enricher = defineActor<EnrichMsg, EnricherState, StageInput<HashStageMsg>>({
  name: 'enrich',
  init: () => ({ enriched: 0, unknownSensor: 0 }),
  receive: async (state, msg, ctx) => {
    if (msg.type === 'flush') {
      const downstream = await ctx.input.next.ask<FlushResult>(msg, { timeoutMs: ctx.input.flushTimeoutMs });
      ctx.reply({ ...downstream, enriched: state.enriched, unknownSensor: state.unknownSensor });
      return;
    }
    const enriched = enrichReading(msg);
    if (enriched === undefined) return { enriched: state.enriched, unknownSensor: state.unknownSensor + 1 };
    await ctx.input.next.send(enriched);
    return { enriched: state.enriched + 1, unknownSensor: state.unknownSensor };
  },
});
