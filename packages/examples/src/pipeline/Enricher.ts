import { defineActor } from '@troupe/core';
import type { AggregateMsg, EnrichMsg, FlushResult, StageInput } from './protocol.js';

/** Where each known sensor is installed, and its calibration offset in °C. */
export const sensorRegistry: ReadonlyMap<string, { site: string; offsetC: number }> = new Map(
  Array.from({ length: 40 }, (_, i) => [
    `s-${i}`,
    { site: ['north', 'south', 'east', 'west'][i % 4] as string, offsetC: ((i % 5) - 2) / 10 },
  ]),
);

interface EnricherState {
  readonly enriched: number;
  readonly unknownSensor: number;
}

/**
 * Stage 2: look the sensor up, convert to calibrated °C, and pass the reading
 * on to the aggregator (awaiting room). Readings from unknown sensors are
 * counted and dropped.
 */
export const Enricher = defineActor<EnrichMsg, EnricherState, StageInput<AggregateMsg>>({
  name: 'enrich',
  init: () => ({ enriched: 0, unknownSensor: 0 }),
  receive: async (state, msg, ctx) => {
    if (msg.type === 'flush') {
      const downstream = await ctx.input.next.ask<FlushResult>(msg, { timeoutMs: ctx.input.flushTimeoutMs });
      ctx.reply({ ...downstream, enriched: state.enriched, unknownSensor: state.unknownSensor });
      return;
    }
    const sensor = sensorRegistry.get(msg.sensor);
    if (sensor === undefined) return { enriched: state.enriched, unknownSensor: state.unknownSensor + 1 };
    const celsius = (msg.unit === 'F' ? ((msg.value - 32) * 5) / 9 : msg.value) + sensor.offsetC;
    await ctx.input.next.send({ type: 'enriched', ts: msg.ts, site: sensor.site, celsius });
    return { enriched: state.enriched + 1, unknownSensor: state.unknownSensor };
  },
});
