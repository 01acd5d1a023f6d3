import http from 'node:http';
import { eventually } from './wait';

export interface ReceivedEvent {
  event: string;
  id?: string;
  data: string;
}

/** A minimal EventSource: records events and comments as they arrive. */
export interface SseClient {
  status: number;
  headers: http.IncomingHttpHeaders;
  events: ReceivedEvent[];
  comments: string[];
  waitForEvents(n: number, timeoutMs?: number): Promise<ReceivedEvent[]>;
  close(): void;
}

/** Opens an event stream on a real server (see `listen` in ./server); resolves once the response starts. */
export function connectSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Accept: 'text/event-stream', ...headers }, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      const client: SseClient = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        events: [],
        comments: [],
        waitForEvents: async (n, timeoutMs = 10_000) => {
          await eventually(() => client.events.length >= n, timeoutMs, `${n} SSE events`);
          return client.events.slice(0, n);
        },
        close: () => {
          req.destroy();
          res.destroy();
        },
      };
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: ReceivedEvent = { event: 'message', data: '' };
          const data: string[] = [];
          let isEvent = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) client.comments.push(line.slice(1).trim());
            else if (line.startsWith('event: ')) (event.event = line.slice(7)), (isEvent = true);
            else if (line.startsWith('id: ')) event.id = line.slice(4);
            else if (line.startsWith('data: ')) (data.push(line.slice(6)), (isEvent = true));
          }
          if (isEvent) client.events.push({ ...event, data: data.join('\n') });
        }
      });
      res.on('error', () => undefined);
      resolve(client);
    });
  });
}
