/**
 * The PSI jobs as a panel of the inspector page: state, phase, progress,
 * rows, rate, bytes. Never paths' contents, keys or rows.
 */
import type { ActorRef } from '@troupe/core';
import type { InspectorSection } from '@troupe/inspector';
import { finalStates, type JobRecord } from './JobRecord.js';
import type { JobServiceMsg } from './JobService.js';

/** `jobs()` returns the service's latest published list; `cancel` is the section's one action. */
export function jobsSection(jobs: () => readonly JobRecord[], service: ActorRef<JobServiceMsg>): InspectorSection {
  return {
    id: 'psi-jobs',
    title: 'PSI jobs',
    collect: () => {
      const all = jobs();
      const list = [...all].reverse().slice(0, 50);
      const running = all.filter((j) => j.state === 'running').length;
      const queued = all.filter((j) => j.state === 'queued').length;
      return {
        kind: 'table',
        columns: [
          { key: 'id', label: 'job' },
          { key: 'state', label: 'state', format: 'status' },
          { key: 'phase', label: 'phase' },
          { key: 'progress', label: 'progress', format: 'progress' },
          { key: 'rows', label: 'rows (left × right)' },
          { key: 'rate', label: 'masked items', format: 'rate' },
          { key: 'elapsed', label: 'elapsed', format: 'ms' },
          { key: 'input', label: 'input', format: 'bytes' },
          { key: 'output', label: 'output', format: 'bytes' },
          { key: 'intersection', label: 'intersection', format: 'number' },
          { key: 'error', label: 'error' },
        ],
        rows: list.map((j) => ({
          id: j.id,
          cells: {
            id: j.id,
            state: j.cancelRequested && j.state === 'running' ? 'cancelling' : j.state,
            phase: j.state === 'running' || j.state === 'done' ? j.progress.phase : '',
            progress: j.state === 'done' ? 1 : j.progress.fraction,
            rows:
              j.progress.rows.left + j.progress.rows.right > 0
                ? `${j.progress.rows.left.toLocaleString('en')} × ${j.progress.rows.right.toLocaleString('en')}`
                : '',
            rate: j.state === 'running' || j.state === 'done' ? j.progress.itemsPerSecond : null,
            elapsed: j.progress.elapsedMs > 0 ? j.progress.elapsedMs : null,
            input: j.inputBytes.left + j.inputBytes.right,
            output: j.result === null ? null : j.result.outputBytes.left + j.result.outputBytes.right,
            intersection: j.result === null ? null : 'kind' in j.result ? j.result.matchedKeys : j.result.intersection,
            // The error's name and code only: messages name files and columns, which is the API's business.
            error: j.error === null ? '' : (j.error.code ?? j.error.name),
          },
          actions: finalStates.has(j.state) || j.cancelRequested ? [] : ['cancel'],
        })),
        empty: 'no jobs yet: POST /jobs to submit one',
        note: `${running} running, ${queued} queued`,
      };
    },
    actions: {
      cancel: async (id) => {
        await service.ask({ type: 'cancel', id }, { timeoutMs: 10_000 });
      },
    },
  };
}
