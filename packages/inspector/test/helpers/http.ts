import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
  json: any;
}

/** One HTTP request with full control of the headers (fetch forbids setting Host). */
export function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** POST a JSON body, with the token when given. */
export function post(url: string, body: unknown, token?: string, extra: Record<string, string> = {}): Promise<Answer> {
  return request(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...extra,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export interface FeedEvent {
  event: string;
  data: string;
}

/**
 * Read the server-sent events of `url` until `done(events)` is true or the
 * stream ends; fails after `ms`. Returns every event and the raw bytes.
 */
export function readFeed(
  url: string,
  done: (events: FeedEvent[]) => boolean,
  ms = 15_000,
): Promise<{ events: FeedEvent[]; raw: string; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const events: FeedEvent[] = [];
    let raw = '';
    let buffer = '';
    let finished = false;
    const req = httpRequest(url, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`feed answered ${res.statusCode}`));
        res.resume();
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += chunk;
        buffer += chunk;
        let i = buffer.indexOf('\n\n');
        while (i >= 0) {
          const block = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) events.push({ event, data });
          i = buffer.indexOf('\n\n');
        }
        if (!finished && done(events)) finish(false);
      });
      res.on('end', () => finish(true));
      // A server process that dies closes the socket without a clean end.
      res.on('close', () => finish(true));
    });
    const timer = setTimeout(() => {
      if (finished) return;
      finished = true;
      req.destroy();
      reject(new Error(`feed: condition not met after ${ms} ms (${events.length} events)`));
    }, ms);
    const finish = (ended: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ events, raw, ended });
    };
    req.on('error', (e) => {
      if (!finished) {
        finished = true;
        clearTimeout(timer);
        reject(e);
      }
    });
    req.end();
  });
}

/** The frames among feed events, parsed. */
// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
export function frames(events: FeedEvent[]): any[] {
  return events.filter((e) => e.event === 'frame').map((e) => JSON.parse(e.data));
}
