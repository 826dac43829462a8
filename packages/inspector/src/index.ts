/**
 * `@troupe/inspector`: a live page for a running Troupe system.
 *
 * @example
 * import { ActorSystem } from '@troupe/core';
 * import { inspect } from '@troupe/inspector';
 *
 * const system = await ActorSystem.start({ name: 'app' });
 * const inspector = await inspect(system, { port: 9464, token: process.env.INSPECTOR_TOKEN });
 * console.log(`open ${inspector.url}`);
 */
export type { ActorRow, Frame, HistoryPoint } from './Feed.js';
export { type InspectOptions, Inspector, inspect } from './Inspector.js';
export { revealPayloads } from './payloads.js';
export {
  type ColumnFormat,
  type InspectorSection,
  type NodeInfo,
  nodesSection,
  type SectionColumn,
  type SectionRow,
  type SectionView,
} from './Section.js';
