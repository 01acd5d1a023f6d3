import type { ActivityDeps } from '../../workers/deps';
import type { AccountEmailPayload } from '../accountEmail';
import type { NotificationJson } from '../push';
import { invoicePdfAttachment } from '../../billing/invoicePdfAttachment';
import { errorText } from '../../infra/dependencies';
import { retryDelay, startPollLoop, type PollLoop } from '../pollLoop';
import { classify, type EmailClass } from './categories';
import { createSmtpMailer, type Mailer, type OutgoingEmail } from './mailer';
import { accountMessage, notificationMessage, render } from './templates';
import { unsubscribeToken } from './unsubscribeToken';

/**
 * The outbox's email lane: delivers `notification_email` rows (one per notification, unique by its key, and
 * account mail) over SMTP.
 *
 * Unlike pushes and webhooks, a batch is not held in a transaction while it is sent: rows are CLAIMED with
 * a lease (next_attempt_at moved LEASE ahead, attempts counted, in one committed statement with SKIP
 * LOCKED), then each message is sent and marked on its own the moment the server accepts it. So two
 * dispatchers never claim the same row, a crash or failed round never re-sends what was already marked
 * (a held transaction would roll back every mark of its batch), and a dispatcher that dies mid-send leaves
 * its rows to be picked up when the lease runs out. The one window left is between the server's "250
 * accepted" and that row's mark (one UPDATE): a crash exactly there sends the email again, with the same
 * Message-ID, which mail providers use to drop duplicates. Exactly-once delivery over SMTP cannot be had.
 *
 * Failures back off exponentially; after the last attempt the row is parked (never due again, with its
 * error) for an operator. Non-essential mail to a user who opted out of its category is marked skipped.
 */
export interface EmailLaneOptions {
  /** SMTP client; default one for config.SMTP_URL (email is off when there is none). */
  mailer?: Mailer;
  pollIntervalMs?: number;
  batchSize?: number;
  /** Messages handed to SMTP at once. */
  concurrency?: number;
  /** How long a claimed row is left alone by other dispatchers; longer than a batch can take. */
  leaseMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  maxAttempts?: number;
  /** Only rows whose outbox key starts with this, e.g. `email:account:` for account mail through its own relay. */
  keyPrefix?: string;
}

const DEFAULTS = { batchSize: 20, concurrency: 4, leaseMs: 5 * 60_000, retryBaseMs: 5_000, retryMaxMs: 3_600_000, maxAttempts: 12 };

interface ClaimedRow {
  id: number;
  payload: Partial<AccountEmailPayload> & { user_id?: string; notification?: NotificationJson };
  attempts: number;
}

interface Recipient {
  id: string;
  email: string;
  name: string;
  opted_out: string[];
}

type Outcome = { result: 'delivered' | 'skipped'; note?: string } | { result: 'failed'; error: string; permanent?: boolean };

export interface EmailSender {
  /** One claim-and-send round; resolves with the number of rows claimed. */
  round(): Promise<number>;
  close(): void;
}

/** The lane's round with its mailer, for the loop below and for tests that drive rounds themselves. */
export function createEmailSender(deps: ActivityDeps, mailer: Mailer, options: EmailLaneOptions = {}): EmailSender {
  const { db, config } = deps;
  const opts = { ...DEFAULTS, ...options };
  const deliveries = deps.metrics.counter('outbox_deliveries_total', 'Outbox delivery attempts by topic and result', ['topic', 'result']);
  const log = deps.logger.child({ component: 'email-lane' });
  const domain = /@([^>\s]+)>?\s*$/.exec(config.EMAIL_FROM)?.[1] ?? 'pledgeflow.localhost';
  const apiUrl = (config.PUBLIC_API_URL ?? `http://localhost:${config.PORT}`).replace(/\/$/, '');

  async function claim(): Promise<ClaimedRow[]> {
    const { rows } = (await db.raw(
      `UPDATE outbox o SET next_attempt_at = now() + ? * interval '1 millisecond', attempts = o.attempts + 1
       FROM (SELECT id FROM outbox
             WHERE topic = 'notification_email' AND delivered_at IS NULL AND next_attempt_at <= now()
               AND starts_with(dedupe_key, ?)
             ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED) due
       WHERE o.id = due.id
       RETURNING o.id, o.payload, o.attempts`,
      [opts.leaseMs, opts.keyPrefix ?? '', opts.batchSize],
    )) as { rows: ClaimedRow[] };
    return rows.sort((a, b) => a.id - b.id);
  }

  async function recipients(rows: ClaimedRow[]): Promise<Map<string, Recipient>> {
    const ids = [...new Set(rows.map((r) => r.payload.user_id).filter((id): id is string => typeof id === 'string' && UUID.test(id)))];
    if (ids.length === 0) return new Map();
    const found = (await db('users as u')
      .leftJoin('email_preferences as p', 'p.user_id', 'u.id')
      .whereIn('u.id', ids)
      .select('u.id', 'u.email', 'u.name', db.raw(`coalesce(p.opted_out, '{}') AS opted_out`))) as Recipient[];
    return new Map(found.map((u) => [u.id, u]));
  }

  /** The message for a row, or why there is none. */
  function compose(r: ClaimedRow, users: Map<string, Recipient>): { email: OutgoingEmail; kind: string } | Outcome {
    const user = r.payload.user_id ? users.get(r.payload.user_id) : undefined;
    const appUrl = config.APP_BASE_URL;
    if (r.payload.account) {
      const to = r.payload.to;
      if (!to) return { result: 'failed', error: 'account email without a recipient', permanent: true };
      const content = render(accountMessage(r.payload.account), { appUrl, recipientName: user?.name });
      return { kind: r.payload.account.kind, email: envelope(r, to, content, {}) };
    }
    const n = r.payload.notification;
    if (!n || typeof n.type !== 'string') return { result: 'failed', error: 'malformed notification_email payload', permanent: true };
    if (!user) return { result: 'skipped', note: 'recipient account no longer exists' };
    const cls: EmailClass = classify(n.type);
    if (!cls.essential && user.opted_out.includes(cls.category)) return { result: 'skipped', note: `opted out of ${cls.category}` };
    const unsubscribe = cls.essential ? undefined : { url: `${apiUrl}/v1/email/unsubscribe?token=${unsubscribeToken(config.JWT_SECRET, user.id, cls.category)}`, category: cls.category };
    const content = render(notificationMessage(n, appUrl, apiUrl), { appUrl, recipientName: user.name, unsubscribe });
    // RFC 2369 / RFC 8058: mail clients show their own unsubscribe button and may POST to it in one click.
    const headers: Record<string, string> = unsubscribe ? { 'List-Unsubscribe': `<${unsubscribe.url}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' } : {};
    return { kind: n.type, email: envelope(r, user.email, content, headers) };
  }

  function envelope(r: ClaimedRow, to: string, content: { subject: string; text: string; html: string }, headers: Record<string, string>): OutgoingEmail {
    return {
      from: config.EMAIL_FROM,
      to,
      ...content,
      messageId: `<outbox-${r.id}@${domain}>`,
      headers: { 'X-Pledgeflow-Outbox-Id': String(r.id), ...headers },
    };
  }

  async function deliver(r: ClaimedRow, users: Map<string, Recipient>): Promise<Outcome> {
    const composed = compose(r, users);
    if ('result' in composed) return composed;
    try {
      const receipt = await receiptAttachment(db, r.payload.notification?.data?.invoice_id);
      if (receipt) composed.email.attachments = [receipt];
      await mailer.send(composed.email);
      return { result: 'delivered' };
    } catch (err) {
      // 5xx answers (bad address, rejected content) will not change on a retry; 4xx and network errors may.
      const code = (err as { responseCode?: number }).responseCode;
      return { result: 'failed', error: errorText(err), permanent: typeof code === 'number' && code >= 500 && code < 600 };
    }
  }

  async function mark(r: ClaimedRow, o: Outcome): Promise<void> {
    if (o.result !== 'failed') {
      // The link of an account mail is a credential: it leaves the table once the mail is out.
      await db.raw(
        `UPDATE outbox SET delivered_at = now(), last_error = ?, payload = CASE WHEN payload->'account' IS NOT NULL THEN payload #- '{account,link}' ELSE payload END
         WHERE id = ? AND delivered_at IS NULL`,
        [o.result === 'skipped' ? `skipped: ${o.note ?? ''}` : null, r.id],
      );
      deliveries.inc({ topic: 'notification_email', result: o.result });
      return;
    }
    const giveUp = o.permanent === true || r.attempts >= opts.maxAttempts;
    await db.raw(
      `UPDATE outbox SET last_error = ?, next_attempt_at = CASE WHEN ? THEN 'infinity'::timestamptz ELSE now() + ? * interval '1 millisecond' END
       WHERE id = ? AND delivered_at IS NULL`,
      [o.error.slice(0, 1000), giveUp, retryDelay(r.attempts, opts.retryBaseMs, opts.retryMaxMs), r.id],
    );
    deliveries.inc({ topic: 'notification_email', result: giveUp ? 'gave_up' : 'failed' });
    const fields = { outboxId: r.id, attempts: r.attempts, error: o.error };
    if (giveUp) log.error(fields, 'email failed for the last time; row parked');
    else log.warn(fields, 'email failed; will retry');
  }

  return {
    async round() {
      const rows = await claim();
      if (rows.length === 0) return 0;
      const users = await recipients(rows);
      const queue = [...rows];
      const worker = async () => {
        for (let r = queue.shift(); r; r = queue.shift()) await mark(r, await deliver(r, users));
      };
      await Promise.all(Array.from({ length: Math.min(opts.concurrency, rows.length) }, worker));
      return rows.length;
    },
    close: () => mailer.close(),
  };
}

/** Starts the lane's loop; with no mailer and no SMTP_URL email is off (rows wait) and says so once. */
export function startEmailLane(deps: ActivityDeps, options: EmailLaneOptions = {}): PollLoop {
  const log = deps.logger.child({ component: 'email-lane' });
  const mailer = options.mailer ?? (deps.config.SMTP_URL ? createSmtpMailer(deps.config.SMTP_URL) : undefined);
  if (!mailer) {
    log.warn('email is off: SMTP_URL is not set; emails stay queued in the outbox until it is');
    return { stop: async () => undefined };
  }
  const sender = createEmailSender(deps, mailer, options);
  const batchSize = options.batchSize ?? DEFAULTS.batchSize;
  const loop = startPollLoop({ round: () => sender.round(), batchSize, pollIntervalMs: options.pollIntervalMs ?? deps.config.OUTBOX_POLL_INTERVAL, log });
  return {
    stop: async () => {
      await loop.stop();
      // Only the lane's own transport: a mailer handed in belongs to the caller.
      if (!options.mailer) sender.close();
    },
  };
}

/** One round with a mailer for SMTP_URL, for callers without a running lane (scripts, tests). */
export async function deliverEmailsOnce(deps: ActivityDeps, options: EmailLaneOptions = {}): Promise<number> {
  const mailer = options.mailer ?? (deps.config.SMTP_URL ? createSmtpMailer(deps.config.SMTP_URL) : undefined);
  if (!mailer) throw new Error('SMTP_URL is not set');
  const sender = createEmailSender(deps, mailer, options);
  try {
    return await sender.round();
  } finally {
    if (!options.mailer) sender.close();
  }
}

/** The PDF of the receipt a notification names, when it names a finalized one. */
async function receiptAttachment(db: ActivityDeps['db'], invoiceId: unknown) {
  return typeof invoiceId === 'string' && UUID.test(invoiceId) ? invoicePdfAttachment(db, invoiceId) : undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
