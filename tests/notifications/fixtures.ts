import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { issueToken } from '../../src/accounts/tokens';
import type { Config } from '../../src/config';
import type { Db } from '../../src/infra/db';
import { uniqueEmail } from '../helpers/context';

/**
 * Fixtures for the notification and live-stream tests. Campaign and pledge routes are built alongside, so
 * users, campaigns and pledges are written straight to the database here.
 */
export async function createUsers(db: Db, count: number, role = 'backer'): Promise<string[]> {
  const rows = Array.from({ length: count }, (_, i) => ({
    email: uniqueEmail(`${role}${i}`),
    password_hash: 'not-a-real-hash',
    name: `${role} ${i}`,
    role,
    base_role: role,
  }));
  const ids: string[] = [];
  for (let i = 0; i < rows.length; i += 1000) {
    const inserted = (await db('users').insert(rows.slice(i, i + 1000)).returning('id')) as { id: string }[];
    ids.push(...inserted.map((r) => r.id));
  }
  return ids;
}

export async function createUser(db: Db, role = 'backer'): Promise<string> {
  const [id] = await createUsers(db, 1, role);
  return id!;
}

export function tokenFor(config: Config, userId: string): string {
  return issueToken(config, userId).token;
}

export async function createCampaign(
  db: Db,
  input: { ownerId: string; status?: string; goalCents?: number; webhookUrl?: string; webhookSecret?: string; pledgedCents?: number; backerCount?: number },
): Promise<string> {
  const [row] = (await db('campaigns')
    .insert({
      owner_id: input.ownerId,
      title: 'Solar kiln',
      description: 'A test campaign',
      category: 'technology',
      goal_cents: input.goalCents ?? 100_000,
      currency: 'USD',
      status: input.status ?? 'live',
      ends_at: new Date(Date.now() + 86_400_000),
      pledged_cents: input.pledgedCents ?? 0,
      backer_count: input.backerCount ?? 0,
      webhook_url: input.webhookUrl ?? null,
      webhook_secret: input.webhookUrl ? (input.webhookSecret ?? 'whsec_test_secret') : null,
    })
    .returning('id')) as { id: string }[];
  return row!.id;
}

export async function createPledges(db: Db, campaignId: string, pledges: { backerId: string; status: string }[]): Promise<void> {
  const rows = pledges.map((p) => ({
    campaign_id: campaignId,
    backer_id: p.backerId,
    amount_cents: 2_500,
    currency: 'USD',
    status: p.status,
    payment_mode: 'save_card',
    payment_method: 'pm_card_visa',
  }));
  for (let i = 0; i < rows.length; i += 1000) await db('pledges').insert(rows.slice(i, i + 1000));
}

/** Polls `check` until it returns a truthy value (or throws after `timeoutMs`). */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A real listening server for an app (supertest buffers whole responses, which never end for SSE). */
export async function listen(app: Express | http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(app as http.RequestListener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

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
