import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { merchantPlansSetting } from './billing/plans';

/**
 * Every setting the platform reads, validated once at start-up. `.env.example` documents each one;
 * keep the two in step. Nothing else in the code base reads process.env directly.
 */
const intFrom = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');
/** A duration: plain seconds ("30") or with a unit ("500ms", "30s", "15m", "48h", "7d"); parsed to milliseconds. */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const toMs = (v: string) => {
  const [, n, unit] = DURATION.exec(v.trim())!;
  return Math.round(Number(n) * UNIT_MS[unit ?? 's']!);
};
const duration = (def: string) =>
  z
    .string()
    .default(def)
    .refine((v) => DURATION.test(v.trim()), 'must be a duration such as 30, 30s, 15m, 48h or 7d')
    .transform(toMs);
/** Comma-separated durations ("24h,1h"): distinct positive milliseconds, largest first. */
const durationList = (def: string) =>
  z
    .string()
    .default(def)
    .transform((v) => v.split(',').map((e) => e.trim()).filter(Boolean))
    .refine((parts) => parts.every((p) => DURATION.test(p)), 'must be comma-separated durations such as 24h,1h')
    .transform((parts) => [...new Set(parts.map(toMs).filter((ms) => ms > 0))].sort((a, b) => b - a));

/** Comma-separated durations kept in the order given ("1d,3d,5d,7d"): positive milliseconds; "" is none. */
const durationSequence = (def: string) =>
  z
    .string()
    .default(def)
    .transform((v) => v.split(',').map((e) => e.trim()).filter(Boolean))
    .refine((parts) => parts.every((p) => DURATION.test(p) && toMs(p) > 0), 'must be comma-separated positive durations such as 1d,3d,5d,7d')
    .transform((parts) => parts.map(toMs));

/**
 * "DE=1.1,DE/Berlin=1.2": price multipliers by country (ISO code) or country/city, keyed "DE" and "DE/berlin";
 * a malformed entry is refused at start-up rather than silently priced at 1.
 */
const LOCATION_ENTRY = /^([A-Za-z]{2})(?:\/([^=]+))?=(\d+(?:\.\d+)?)$/;
const locationMultipliers = z
  .string()
  .default('')
  .transform((v) => v.split(',').map((e) => e.trim()).filter(Boolean))
  .refine((parts) => parts.every((p) => LOCATION_ENTRY.test(p) && Number(LOCATION_ENTRY.exec(p)![3]) > 0), 'must be entries such as DE=1.1,DE/Berlin=1.2')
  .transform((parts) =>
    Object.fromEntries(
      parts.map((p) => {
        const [, country, city, value] = LOCATION_ENTRY.exec(p)!;
        return [city ? `${country!.toUpperCase()}/${city.trim().toLowerCase()}` : country!.toUpperCase(), Number(value)];
      }),
    ) as Record<string, number>,
  );

/**
 * "default=1900,<issuer user id>=700,platform=1900": invoice tax rates in basis points (0-10000) per issuer (a
 * seller's user id, or `platform`), `default` for every other issuer (0 when absent); src/domain/invoiceMath.ts.
 */
const TAX_ENTRY = /^(default|platform|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})=(\d{1,5})$/i;
const taxRates = z
  .string()
  .default('default=0')
  .transform((v) => v.split(',').map((e) => e.trim()).filter(Boolean))
  .refine((parts) => parts.every((p) => TAX_ENTRY.test(p) && Number(TAX_ENTRY.exec(p)![2]) <= 10_000), 'must be entries such as default=1900,platform=1900,<user id>=700 (basis points 0-10000)')
  .refine((parts) => new Set(parts.map((p) => p.split('=')[0]!.toLowerCase())).size === parts.length, 'names an issuer twice')
  .transform((parts) => Object.fromEntries(parts.map((p) => [TAX_ENTRY.exec(p)![1]!.toLowerCase(), Number(TAX_ENTRY.exec(p)![2])])) as Record<string, number>);

const list = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((e) => e.trim().toLowerCase())
      .filter(Boolean),
  );

const schema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PORT: intFrom(3000).pipe(z.number().max(65535)),
  HOST: z.string().default('0.0.0.0'),
  /** API processes sharing PORT (src/main/cluster.ts); unset: one per core. */
  WEB_CONCURRENCY: z.coerce.number().int().min(1).max(256).optional(),
  TRUST_PROXY: z.string().default('false'),
  /** Browser origins allowed to call the API cross-origin (the web app's, when served elsewhere); none by default. */
  CORS_ORIGINS: list,
  /** The largest request body accepted (JSON), in KiB; larger answers 413. */
  REQUEST_BODY_LIMIT_KB: intFrom(256, 1),

  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default('postgres://postgres@127.0.0.1:5432/pledgeflow'),
  DATABASE_POOL_MAX: intFrom(10, 1),
  /** How long a query waits for a pooled connection before the request answers 503 (pool exhausted or Postgres down). */
  DATABASE_ACQUIRE_TIMEOUT_MS: intFrom(5_000, 1),
  /** How long opening a connection to Postgres may take. */
  DATABASE_CONNECT_TIMEOUT_MS: intFrom(3_000, 1),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379/0'),

  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_CLI_PATH: z.string().optional(),
  TEMPORAL_UI_PORT: intFrom(8233).pipe(z.number().max(65535)),
  /** Where operators open the Temporal Web UI (the operator dashboard links workflows there); default the dev server's, http://localhost:TEMPORAL_UI_PORT. */
  TEMPORAL_UI_URL: z.url().optional(),
  TASK_QUEUE: z.string().min(1).default('pledgeflow'),
  PAYMENTS_ACTIVITIES_PER_SECOND: z.coerce.number().positive().default(20),
  WORKER_SHUTDOWN_GRACE_SECONDS: intFrom(30),
  TEMPORAL_UPDATE_TIMEOUT: duration('10s'),

  JWT_SECRET: z.string().min(32, 'JWT_SECRET must be at least 32 characters').optional(),
  /** Access tokens: short-lived, renewed with the rotating refresh token. */
  TOKEN_TTL_SECONDS: intFrom(900, 1),
  REFRESH_TOKEN_TTL: duration('30d'),
  /** How long a process trusts its copy of an account's role and revocations (sign-out elsewhere takes this long). */
  AUTH_CACHE_TTL: duration('5s'),
  /** Addresses that become operators once verified (`npm run operator -- add` is the other way). */
  OPERATOR_EMAILS: list,
  LOGIN_MAX_FAILURES_PER_ACCOUNT: intFrom(10, 1),
  LOGIN_MAX_ATTEMPTS_PER_IP: intFrom(100, 1),
  LOGIN_RATE_WINDOW_SECONDS: intFrom(900, 1),
  /** Links in account emails open the web app here (its page posts the token to the API). */
  APP_BASE_URL: z.url().default('http://localhost:3000'),
  EMAIL_VERIFICATION_TTL: duration('48h'),
  PASSWORD_RESET_TTL: duration('1h'),
  REGISTER_MAX_PER_IP: intFrom(20, 1),
  /** Verification and reset emails, per address and per client IP, within ACCOUNT_RATE_WINDOW_SECONDS. */
  ACCOUNT_EMAILS_MAX_PER_ACCOUNT: intFrom(5, 1),
  ACCOUNT_EMAILS_MAX_PER_IP: intFrom(30, 1),
  ACCOUNT_RATE_WINDOW_SECONDS: intFrom(3600, 1),

  IDEMPOTENCY_KEY_TTL_HOURS: intFrom(24, 24),
  /** The longest a LIVE request keeps its Idempotency-Key; one whose process died lets go after the lease. */
  IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: intFrom(120, 1),
  /** A running request renews its key's lock this long ahead, every third of it; a dead one's lapses within it. */
  IDEMPOTENCY_LEASE_SECONDS: intFrom(10, 1),

  STRIPE_SECRET_KEY: z.string().min(1).optional(),
  STRIPE_WEBHOOK_SECRET: z.string().min(1).optional(),
  STRIPE_API_URL: z.url().optional(),
  STRIPE_TIMEOUT_MS: intFrom(20_000, 1),
  STRIPE_MAX_RETRIES: intFrom(2),
  STRIPE_CALLS_PER_SECOND: intFrom(80, 1),
  PAYMENT_STEP_TIMEOUT: duration('2m'),

  // Crowdfunding timers (durations; tests set them in seconds).
  HOLD_WINDOW: duration('6d'),
  DROPPED_PLEDGE_WINDOW: duration('7d'),
  REMINDER_INTERVAL: duration('48h'),
  PLEDGE_LOCK_WINDOW: duration('24h'),
  SETTLEMENT_BATCH_SIZE: intFrom(200, 1),
  SETTLEMENT_CONCURRENCY: intFrom(8, 1),
  SSE_KEEPALIVE: duration('15s'),
  OUTBOX_POLL_INTERVAL: duration('1s'),
  OUTBOX_DISPATCHER: bool(true),
  WEBHOOK_ALLOW_PRIVATE_URLS: z.enum(['true', 'false']).optional(),

  // Email: the outbox's email lane sends through SMTP_URL (smtp:// or smtps://, credentials in the URL);
  // `npm start` points it at the Mailpit it starts. Unset outside `npm start`: email is off (mail waits queued).
  SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
  EMAIL_FROM: z.string().min(3).default('Pledgeflow <no-reply@pledgeflow.localhost>'),
  /** Where links in emails reach the API (unsubscribe); defaults to http://localhost:PORT. */
  PUBLIC_API_URL: z.url().optional(),
  MAILPIT_SMTP_PORT: intFrom(1025).pipe(z.number().max(65535)),
  MAILPIT_UI_PORT: intFrom(8025).pipe(z.number().max(65535)),

  // Carts (durations; tests set them in seconds).
  RESERVATION_TTL: duration('15m'),
  // Long-lived workflows that release expired holds (`<TASK_QUEUE>:hold-expiry:<shard>`), holds split by variant.
  HOLD_EXPIRY_SHARDS: intFrom(4, 1),
  CART_TTL_GUEST: duration('48h'),
  CART_TTL_USER: duration('30d'),

  // Commerce reconciliation (Temporal Schedule `<TASK_QUEUE>:commerce-reconcile`).
  RECONCILE_INTERVAL: duration('5m'),
  RECONCILE_GRACE: duration('30m'),

  // Drops: requests per account and per client IP within the window, per drop endpoint (entries, queue joins).
  DROP_RATE_LIMIT_PER_ACCOUNT: intFrom(10, 1),
  DROP_RATE_LIMIT_PER_IP: intFrom(120, 1),
  DROP_RATE_WINDOW_SECONDS: intFrom(60, 1),
  // First-come waiting room: how long a queue token stays valid after the room opens (or after it is issued, later).
  DROP_QUEUE_TOKEN_TTL: duration('6h'),

  // Service bookings (durations; tests set them in seconds).
  /** How long a slot hold lasts before its timer releases it. */
  SLOT_HOLD_TTL: duration('5m'),
  /** How long a quoted price stays locked. */
  QUOTE_TTL: duration('10m'),
  /** Signs quotes (HMAC); defaults to a key derived from JWT_SECRET. */
  QUOTE_SIGNING_SECRET: z.string().min(32, 'QUOTE_SIGNING_SECRET must be at least 32 characters').optional(),
  /** Reminders before a booking's start, e.g. "24h,1h": parsed to milliseconds, largest first. */
  BOOKING_REMINDERS: durationList('24h,1h'),
  /** A booking the provider says nothing about completes itself this long after its end. */
  BOOKING_COMPLETION_GRACE: duration('24h'),
  /** After completion, the money is released to the provider once this window for disputes has passed. */
  BOOKING_DISPUTE_WINDOW: duration('72h'),
  /** Bookings starting later than this save the card at booking and are charged off-session this long before the start. */
  BOOKING_AUTHORIZATION_WINDOW: duration('6d'),
  /** Onboarding: the provider is reminded after this, and an onboarding still incomplete after EXPIRY expires. */
  PROVIDER_ONBOARDING_REMINDER: duration('3d'),
  PROVIDER_ONBOARDING_EXPIRY: duration('30d'),
  /** Dynamic pricing bounds: each multiplier is clamped to [min, max], and so is their product. */
  PRICE_MULTIPLIER_MIN: z.coerce.number().min(0.1).max(1).default(1),
  PRICE_MULTIPLIER_MAX: z.coerce.number().min(1).max(10).default(2),
  /** Location multiplier by country or country/city ("DE=1.1,DE/Berlin=1.2"; a city before its country; else 1). */
  PRICE_LOCATION_MULTIPLIERS: locationMultipliers,

  /** Invoice tax rates in basis points per issuer ("default=1900,platform=1900,<seller user id>=700"), added on top per line. */
  TAX_RATES_BPS: taxRates,

  // Billing: merchant plans (src/billing/plans.ts). Unset: Basic / Grow / Advanced; else a JSON array that replaces them.
  MERCHANT_PLANS: merchantPlansSetting,
  /** The plan whose transaction fee applies to a store without a subscription. */
  STORE_DEFAULT_PLAN: z.string().min(1).default('basic'),
  /** Platform fees in basis points of each charge: crowdfunding (of collected funds) and bookings; stores by plan. */
  PLATFORM_FEE_CROWDFUNDING_BPS: intFrom(500).pipe(z.number().max(10000)),
  PLATFORM_FEE_BOOKINGS_BPS: intFrom(1000).pipe(z.number().max(10000)),
  /** A fixed platform fee per store order, in the order's minor units, on top of the plan's percentage. */
  PLATFORM_FEE_STORE_FIXED_CENTS: intFrom(30),
  /** Payout delays: money is pending this long after a campaign settles, an order is delivered, a booking completes. */
  PAYOUT_DELAY_CAMPAIGN: duration('14d'),
  PAYOUT_DELAY_ORDER: duration('7d'),
  PAYOUT_DELAY_BOOKING: duration('3d'),
  /** Dunning: the waits after each failed plan charge before the next try (its length: how many retries; none after a hard decline). */
  SUBSCRIPTION_RETRY_SCHEDULE: durationSequence('1d,3d,5d,7d'),
  /** Unset: calendar periods of the plan's interval on the anchor. A duration: fixed periods of that length (tests, demos). */
  SUBSCRIPTION_PERIOD: z
    .string()
    .optional()
    .refine((v) => v === undefined || (DURATION.test(v.trim()) && toMs(v) >= 1000), 'must be a duration of at least 1s, such as 30s or 1d')
    .transform((v) => (v === undefined ? undefined : toMs(v))),
  /** When payout runs start (a Temporal Schedule; cron, UTC): weekly on Mondays by default. */
  PAYOUT_SCHEDULE_CRON: z.string().min(9).default('0 6 * * 1'),
  /** Receipts (invoices) for every charge; off only to measure what invoicing costs (bench:invoices). */
  ISSUE_RECEIPTS: bool(true),

  DEV_SERVER_DATA_DIR: z.string().default('.data'),
  START_API: bool(true),
  START_WORKER: bool(true),
});

export type RawConfig = z.infer<typeof schema>;

export interface Config extends Omit<RawConfig, 'JWT_SECRET' | 'TRUST_PROXY' | 'WEBHOOK_ALLOW_PRIVATE_URLS'> {
  /** Creator webhooks may target loopback/private addresses: default only outside production. */
  WEBHOOK_ALLOW_PRIVATE_URLS: boolean;
  JWT_SECRET: string;
  /** Express `trust proxy` value: false, true, a hop count or a list of subnets. */
  TRUST_PROXY: boolean | number | string;
  /** Which payment adapter is active: Stripe when a secret key is set, else the simulated gateway. */
  paymentProvider: 'stripe' | 'simulated';
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\nSee .env.example for every setting.`);
    this.name = 'ConfigError';
  }
}

function parseTrustProxy(v: string): boolean | number | string {
  if (v === 'true') return true;
  if (v === 'false' || v === '') return false;
  if (/^\d+$/.test(v)) return Number(v);
  return v;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings in the environment mean "unset", as in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  const raw = parsed.data;
  if (!raw.JWT_SECRET && raw.NODE_ENV === 'production') {
    throw new ConfigError(['JWT_SECRET: required in production (at least 32 random characters)']);
  }
  return {
    ...raw,
    // Outside production an unset secret gets a random one per process: tokens then die with the process,
    // which is fine for development and tests and never leaves a guessable default in the repo.
    JWT_SECRET: raw.JWT_SECRET ?? randomBytes(32).toString('hex'),
    TRUST_PROXY: parseTrustProxy(raw.TRUST_PROXY),
    WEBHOOK_ALLOW_PRIVATE_URLS: raw.WEBHOOK_ALLOW_PRIVATE_URLS ? raw.WEBHOOK_ALLOW_PRIVATE_URLS === 'true' : raw.NODE_ENV !== 'production',
    paymentProvider: raw.STRIPE_SECRET_KEY ? 'stripe' : 'simulated',
  };
}
