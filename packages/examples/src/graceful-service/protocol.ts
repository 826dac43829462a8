/** What one request asks of the service: hash `input`, taking `workMs` of simulated I/O. */
export interface WorkRequest {
  readonly type: 'work';
  readonly input: string;
  /** Make the worker crash on this request (to show supervision from the outside). */
  readonly fail: boolean;
}

/** The answer to a {@link WorkRequest}. */
export interface WorkResult {
  readonly worker: string;
  readonly digest: string;
}

/** Messages of the service (router) and of its workers: both take work. */
export type ServiceMsg = WorkRequest;
export type WorkerMsg = WorkRequest;
