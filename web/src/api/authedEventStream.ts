import { api } from './client';

export interface StreamEvent {
  event: string;
  id?: string;
  data: string;
}

/**
 * Server-Sent Events from a route that needs the Authorization header, which EventSource cannot send: the
 * stream is read with fetch (through the client, so an expired token is refreshed), parsed here, and reopened
 * after a drop with Last-Event-ID so the server replays what was missed. Returns a function that closes it.
 */
export function openAuthedEventStream(path: '/v1/me/notifications/stream', onEvent: (e: StreamEvent) => void): () => void {
  const abort = new AbortController();
  let lastId: string | undefined;
  let delay = 1_000;

  const connect = async (): Promise<void> => {
    const { data, response } = await api.GET(path, {
      parseAs: 'stream',
      signal: abort.signal,
      headers: lastId ? { 'Last-Event-ID': lastId } : {},
    });
    // Signed out (401) or not allowed: nothing to retry until the session changes, which reopens the stream.
    if (response.status === 401 || response.status === 403) return;
    if (!response.ok || !data) throw new Error(`stream answered ${response.status}`);
    delay = 1_000;
    const reader = data.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const parsed = parseBlock(block);
        if (parsed.id) lastId = parsed.id;
        if (parsed.data !== undefined) onEvent({ event: parsed.event ?? 'message', id: parsed.id, data: parsed.data });
      }
    }
    throw new Error('stream ended');
  };

  const run = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      try {
        await connect();
        return;
      } catch {
        if (abort.signal.aborted) return;
        // Reconnect with a growing pause (at most 30 s), as EventSource would.
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 30_000);
      }
    }
  };
  void run();
  return () => abort.abort();
}

function parseBlock(block: string): { event?: string; id?: string; data?: string } {
  const out: { event?: string; id?: string; data?: string } = {};
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue; // comments are the keep-alives
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') out.event = value;
    else if (field === 'id') out.id = value;
    else if (field === 'data') out.data = out.data === undefined ? value : `${out.data}\n${value}`;
  }
  return out;
}
