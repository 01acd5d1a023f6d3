import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { bookingStateQuery, bookingWorkflowId } from '../src/bookings/contract';
import { quoteSigningKey, signQuote } from '../src/bookings/quotes';
import { ensureDatabase } from '../src/infra/db';
import {
  allPass,
  benchDatabaseUrl,
  benchEnvironment,
  benchLog,
  bulkUsers,
  httpRequest,
  loadAverage,
  percentile,
  positiveInt,
  quietTemporalRuntime,
  report,
  round,
  runBench,
  runConcurrently,
  startBenchWorkers,
  Tally,
  type BenchEnvironment,
} from './harness';

/**
 * Slot holds per second through the API (POST /v1/bookings/holds: quote check, service and provider reads, the
 * opening-grid check, the customer's hold cap, one INSERT through the bookings_no_overlap exclusion gate, and the
 * hold's `booking:<id>` workflow started before COMMIT), every request a different customer:
 *   - `contended`: ONE provider-day (08:00–20:00, 15-minute slots: 48 of them), every request a random slot of it,
 *     so the day fills within the first requests and the rest race for taken slots (409 slot_unavailable);
 *   - `spread`: non-conflicting holds over many provider-days, each request a different free slot (all 201).
 * Beside each, in the same invocation and before the API exists, its bare baseline: a `node:http` server doing one
 * plain INSERT into a scratch table with the same exclusion constraint (201, or 409 on 23P01), loaded by the same
 * client with the same concurrency and request count. `ratio_to_baseline` = API answers/s ÷ baseline answers/s.
 * Real workers run the hold timers (each workflow's first task) on the same cores, as a deployment's would
 * (BENCH_HOLDS_WORKERS=0: none). A second floor, measured on the same dev server before the runs: bare workflow
 * starts per second (`temporal_starts`), since every accepted hold is one start.
 *
 * Checks: no two live rows of a provider overlap (SQL over all rows), every 201 is exactly one held row, only
 * 201/409 answers, every slot of the contended day asked for has exactly one hold, and holds = timers (a sample of held rows each has its
 * workflow running, asleep until the hold's end).
 *
 *   npm run bench:holds
 *   BENCH_HOLDS_REQUESTS=2000      requests per run
 *   BENCH_HOLDS_CONCURRENCY=32     requests in flight
 *   BENCH_HOLDS_PROVIDERS=20       providers of the spread run (each open 24 h, 15-minute slots)
 *   BENCH_HOLDS_WARMUP=200         untimed holds first, on a provider of their own
 *   BENCH_HOLDS_WORKERS=1          0: no workers (the timers' workflows are started but not run)
 */

const log = benchLog('holds');
const SLOT_MINUTES = 15;
const DAY = 86_400_000;

interface Slot {
  providerId: string;
  serviceId: string;
  start: number;
}

interface Figures {
  requests: number;
  concurrency: number;
  seconds: number;
  per_second: number;
  accepted: number;
  accepted_per_second: number;
  p50_ms: number;
  p99_ms: number;
  statuses: Record<string, number>;
}

async function timed(requests: number, concurrency: number, send: (i: number) => Promise<number>): Promise<Figures> {
  const statuses = new Tally();
  const started = performance.now();
  const latencies = await runConcurrently(requests, concurrency, async (i) => statuses.add(await send(i)));
  const seconds = (performance.now() - started) / 1000;
  return {
    requests,
    concurrency,
    seconds: round(seconds, 2),
    per_second: Math.round(requests / seconds),
    accepted: statuses.get(201),
    accepted_per_second: Math.round(statuses.get(201) / seconds),
    p50_ms: round(percentile(latencies, 50)),
    p99_ms: round(percentile(latencies, 99)),
    statuses: statuses.toJSON(),
  };
}

/** The day's starts (epoch ms) from 08:00 UTC to 20:00 UTC, `days` days from now. */
function daySlots(days: number, fromHour: number, toHour: number): number[] {
  const midnight = Math.floor(Date.now() / DAY) * DAY + days * DAY;
  const starts: number[] = [];
  for (let t = midnight + fromHour * 3_600_000; t + SLOT_MINUTES * 60_000 <= midnight + toHour * 3_600_000; t += SLOT_MINUTES * 60_000) starts.push(t);
  return starts;
}

const shuffled = <T>(xs: T[]): T[] => {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
};

function contendedSlots(providerId: string, serviceId: string, requests: number): Slot[] {
  const day = daySlots(2, 8, 20);
  return Array.from({ length: requests }, () => ({ providerId, serviceId, start: day[Math.floor(Math.random() * day.length)]! }));
}

function spreadSlots(providers: Array<{ providerId: string; serviceId: string }>, requests: number, firstDay: number): Slot[] {
  const all: Slot[] = [];
  for (let d = firstDay; all.length < requests; d++) {
    for (const p of providers) for (const start of daySlots(d, 0, 24)) all.push({ ...p, start });
  }
  return shuffled(all.slice(0, requests));
}

// ------------------------------------------------------------------------------------------ bare baseline

/**
 * One plain INSERT per request into a scratch table with the same exclusion constraint as bookings (btree_gist,
 * provider + [start, end) where live), from a bare node:http server: 201, or 409 on 23P01.
 */
async function baseline(slots: Slot[], concurrency: number): Promise<Figures> {
  const databaseUrl = benchDatabaseUrl();
  await ensureDatabase(databaseUrl);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 20 });
  pool.on('error', () => undefined);
  const table = `bench_holds_baseline_${process.pid}`;
  await pool.query('CREATE EXTENSION IF NOT EXISTS btree_gist');
  await pool.query(`DROP TABLE IF EXISTS ${table}`);
  await pool.query(`CREATE TABLE ${table} (
    id uuid PRIMARY KEY, provider_id uuid NOT NULL, status text NOT NULL, blocked tstzrange NOT NULL,
    EXCLUDE USING gist (provider_id WITH =, blocked WITH &&) WHERE (status IN ('held', 'confirmed')))`);
  const sql = `INSERT INTO ${table} (id, provider_id, status, blocked) VALUES ($1, $2, 'held', tstzrange($3::timestamptz, $4::timestamptz, '[)'))`;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const slot = JSON.parse(body) as Slot;
      pool.query({ name: 'baseline-hold', text: sql, values: [randomUUID(), slot.providerId, new Date(slot.start), new Date(slot.start + SLOT_MINUTES * 60_000)] }).then(
        () => res.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}'),
        (err: { code?: string }) => res.writeHead(err.code === '23P01' ? 409 : 500, { 'content-type': 'application/json' }).end('{"ok":false}'),
      );
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/holds`;
  const send = (slot: Slot) => httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(slot) });
  try {
    // Untimed warm-up on providers of its own (JIT, keep-alive sockets, the pool).
    const warm = contendedSlots(randomUUID(), randomUUID(), 500);
    await runConcurrently(warm.length, concurrency, async (i) => void (await send(warm[i]!)));
    return await timed(slots.length, concurrency, (i) => send(slots[i]!));
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
  }
}

// ------------------------------------------------------------------------------------------ the API

async function makeProviders(env: BenchEnvironment, count: number, hours: { start: string; end: string }): Promise<Array<{ providerId: string; serviceId: string }>> {
  const { db } = env.services;
  const owners = await bulkUsers(env.services, count, 'provider');
  const weekly = JSON.stringify([0, 1, 2, 3, 4, 5, 6].map((weekday) => ({ weekday, ...hours })));
  const providers = (await db('providers')
    .insert(owners.map((o, i) => ({ user_id: o.id, display_name: `Bench provider ${i}`, categories: ['repairs'], time_zone: 'UTC', lat: 52.5, lng: 13.4, city: 'Berlin', country: 'DE', status: 'active', approved_at: new Date(), weekly_hours: weekly })))
    .returning('id')) as Array<{ id: string }>;
  const services = (await db('services')
    .insert(providers.map((p) => ({ provider_id: p.id, title: 'Quick fix', category: 'repairs', duration_minutes: SLOT_MINUTES, base_price_cents: 2_500, currency: 'EUR' })))
    .returning(['id', 'provider_id'])) as Array<{ id: string; provider_id: string }>;
  return services.map((s) => ({ providerId: s.provider_id, serviceId: s.id }));
}

/** Bare workflow starts per second on the bench's dev server (a type no worker polls for: nothing runs them). */
async function temporalStarts(env: BenchEnvironment, requests: number, concurrency: number): Promise<Figures> {
  const client = await env.services.temporal.client();
  const taskQueue = `bench-holds-nobody-${randomUUID().slice(0, 8)}`;
  const start = () => client.workflow.start('benchNothing', { workflowId: `bench-start:${randomUUID()}`, taskQueue, args: [] }).then(() => 201);
  await runConcurrently(100, concurrency, async () => void (await start()));
  return timed(requests, concurrency, () => start());
}

/** Each slot's request body, with a quote signed as POST /v1/services/{id}/quotes would sign it. */
function holdBodies(env: BenchEnvironment, slots: Slot[]): string[] {
  const key = quoteSigningKey(env.config);
  const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
  return slots.map((s) => {
    const start = new Date(s.start).toISOString();
    const end = new Date(s.start + SLOT_MINUTES * 60_000).toISOString();
    const quoteId = signQuote(key, {
      serviceId: s.serviceId,
      providerId: s.providerId,
      start,
      end,
      priceCents: 2_500,
      currency: 'EUR',
      breakdown: { base_cents: 2_500, multipliers: { demand: 1, experience: 1, location: 1 }, total_multiplier: 1 },
      expiresAt,
    });
    return JSON.stringify({ service_id: s.serviceId, start, quote_id: quoteId });
  });
}

async function holdThroughApi(env: BenchEnvironment, slots: Slot[], concurrency: number): Promise<Figures> {
  const customers = await bulkUsers(env.services, slots.length);
  const bodies = holdBodies(env, slots);
  const url = `${env.baseUrl}/v1/bookings/holds`;
  return timed(slots.length, concurrency, (i) => httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: customers[i]!.auth }, body: bodies[i]! }));
}

/** Live rows of these providers that overlap another live row: must be none. */
async function overlaps(env: BenchEnvironment, providerIds: string[]): Promise<number> {
  const { rows } = await env.services.db.raw(
    `SELECT count(*)::int AS n FROM bookings a JOIN bookings b ON a.provider_id = b.provider_id AND a.id < b.id AND a.blocked && b.blocked
      WHERE a.provider_id = ANY(?::uuid[]) AND a.status IN ('held', 'confirmed') AND b.status IN ('held', 'confirmed')`,
    [providerIds],
  );
  return rows[0].n as number;
}

async function heldRows(env: BenchEnvironment, providerIds: string[]): Promise<Array<{ id: string; hold_expires_at: Date }>> {
  return env.services.db('bookings').whereIn('provider_id', providerIds).where({ status: 'held' }).select('id', 'hold_expires_at');
}

/** Holds = timers: each sampled held row's workflow runs, asleep on a timer no later than the hold's end. */
async function holdsWithoutTimer(env: BenchEnvironment, rows: Array<{ id: string; hold_expires_at: Date }>, sample: number): Promise<string[]> {
  const client = await env.services.temporal.client();
  const failures: string[] = [];
  for (const row of shuffled(rows).slice(0, sample)) {
    const handle = client.workflow.getHandle(bookingWorkflowId(row.id));
    let state;
    for (let i = 0; i < 100 && !state?.nextTimerAt; i++) {
      state = await handle.query(bookingStateQuery).catch(() => undefined);
      if (!state?.nextTimerAt) await new Promise((r) => setTimeout(r, 100));
    }
    if (!state?.nextTimerAt || Date.parse(state.nextTimerAt) > row.hold_expires_at.getTime() + 1_000) failures.push(`${row.id}: ${JSON.stringify(state ?? null)}`);
  }
  return failures;
}

async function main(): Promise<void> {
  quietTemporalRuntime();
  const requests = positiveInt('BENCH_HOLDS_REQUESTS', 2_000);
  const concurrency = positiveInt('BENCH_HOLDS_CONCURRENCY', 32);
  const providerCount = positiveInt('BENCH_HOLDS_PROVIDERS', 20);
  const warmup = positiveInt('BENCH_HOLDS_WARMUP', 200);

  // Bare baselines first, before the environment (and its dev server) exists, over slots of the same shape.
  const bareContended = await baseline(contendedSlots(randomUUID(), randomUUID(), requests), concurrency);
  log(`baseline contended: ${bareContended.per_second} answers/s (${bareContended.accepted} inserted)`);
  const bareProviders = Array.from({ length: providerCount }, () => ({ providerId: randomUUID(), serviceId: randomUUID() }));
  const bareSpread = await baseline(spreadSlots(bareProviders, requests, 2), concurrency);
  log(`baseline spread: ${bareSpread.per_second} inserts/s`);

  // Every refused hold is an expected 409, which the API logs at warn: off unless asked for.
  const env = await benchEnvironment({ temporal: true, settings: { LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'error', SLOT_HOLD_TTL: '30m' } });
  let workers: { stop(): Promise<void> } | undefined;
  try {
    const starts = await temporalStarts(env, Math.min(requests, 1_000), concurrency);
    log(`temporal: ${starts.per_second} bare workflow starts/s`);
    if (process.env.BENCH_HOLDS_WORKERS !== '0') workers = await startBenchWorkers(env.services, { outboxDispatcher: false });
    const [warmProvider] = await makeProviders(env, 1, { start: '00:00', end: '24:00' });
    await holdThroughApi(env, spreadSlots([warmProvider!], warmup, 2), concurrency);
    const loadBefore = loadAverage();

    const [day] = await makeProviders(env, 1, { start: '08:00', end: '20:00' });
    const daySlotsAsked = contendedSlots(day!.providerId, day!.serviceId, requests);
    const contended = await holdThroughApi(env, daySlotsAsked, concurrency);
    const distinctAsked = new Set(daySlotsAsked.map((s) => s.start)).size;
    log(`contended: ${contended.per_second} answers/s, ${contended.accepted} held`);
    const many = await makeProviders(env, providerCount, { start: '00:00', end: '24:00' });
    const spread = await holdThroughApi(env, spreadSlots(many, requests, 2), concurrency);
    log(`spread: ${spread.accepted_per_second} holds/s`);

    const dayRows = await heldRows(env, [day!.providerId]);
    const spreadRows = await heldRows(env, many.map((m) => m.providerId));
    const untimed = workers ? await holdsWithoutTimer(env, [...dayRows, ...spreadRows], 50) : [];
    const checks = {
      no_overlapping_live_rows: (await overlaps(env, [day!.providerId, ...many.map((m) => m.providerId)])) === 0,
      // Every slot asked for went to exactly one customer (all 48 once the requests are many).
      contended_one_winner_per_slot: dayRows.length === distinctAsked && contended.accepted === distinctAsked,
      contended_only_201_or_409: contended.accepted + (contended.statuses['409'] ?? 0) === requests,
      spread_all_held: spread.accepted === requests && spreadRows.length === requests,
      holds_equal_timers: untimed.length === 0,
    };
    const floor = { temporal_starts: { requests: starts.requests, concurrency, per_second: starts.per_second, p50_ms: starts.p50_ms, p99_ms: starts.p99_ms } };
    const runs = [
      { kind: 'contended', ...contended, baseline: bareContended, ratio_to_baseline: round(contended.per_second / Math.max(1, bareContended.per_second), 3) },
      {
        kind: 'spread',
        ...spread,
        baseline: bareSpread,
        ratio_to_baseline: round(spread.accepted_per_second / Math.max(1, bareSpread.accepted_per_second), 3),
        ratio_to_temporal_starts: round(spread.accepted_per_second / Math.max(1, starts.per_second), 3),
      },
    ];
    report('holds', {
      load_average_before: loadBefore,
      load_average_after: loadAverage(),
      warmup_holds: warmup,
      workers: Boolean(workers),
      ...floor,
      runs,
      ...(untimed.length ? { holds_without_timer: untimed } : {}),
      checks,
      ok: allPass(checks),
    });
  } finally {
    await workers?.stop();
    await env.close();
  }
}

runBench(main);
