import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { uuidParam, type Api } from '../http/api';
import { Problem, problems } from '../http/problem';
import { Address, OrderSummarySchema } from '../commerce/orderSchemas';
import { checkoutRuns } from '../commerce/checkoutRuns';
import type { AppDeps } from '../deps';
import { requirePrincipal } from '../../accounts/authorization';
import { canManage } from '../../domain/roles';
import { DRAW_ALGORITHM, seedCommitment } from '../../domain/draw';
import { findStore } from '../../commerce/catalog';
import { forgetCart, openHeldCart } from '../../commerce/heldCart';
import { HotStock } from '../../commerce/hotStock';
import { heldLines, InsufficientStockError, releaseCart } from '../../commerce/reservations';
import { claimCheckoutKey, findEntry, markClaimed, publishedRanking, type EntryRow } from '../../drops/lottery';
import { DropRateLimiter } from '../../drops/rateLimit';
import { dropJson, dropWorkflowInput, drawSecret, loadDrop, renderDrop, type DropRow } from '../../drops/repository';
import { createPaymentService, PaymentNotAllowedError } from '../../payments/paymentService';
import { PaymentRequestError } from '../../payments/gateway';
import type { PaymentRecord } from '../../payments/paymentRecords';
import { DropId, Status, StoreId } from '../../temporal/searchAttributes';
import { DROP_WORKFLOW, dropClaimedSignal, type DropWorkflow, dropWorkflowId } from '../../drops/contract';

/**
 * Drops (API.md, "Drops"): creation by the store's owner, which starts `drop:<id>` (the owner of every timer),
 * public reads, and the lottery: entries (one per account, card saved at entry, rate limited), the caller's own
 * entry, claims (an order through the checkout saga on a cart holding the unit) and the published draw.
 * The first-come waiting room's routes are src/api/drops/dropQueueRoutes.ts.
 */

const MAX_QUANTITY = 1_000_000;
const MAX_CLAIM_WINDOW_SECONDS = 30 * 86_400;
const MAX_PRICE_CENTS = 10_000_000_000;

const PaymentMethod = z
  .string()
  .regex(/^pm_[A-Za-z0-9_]{1,200}$/, 'must be a payment method token starting with pm_')
  .openapi({ description: 'A provider payment method token (pm_...)', example: 'pm_card_visa' });

const CreateDropBody = z
  .strictObject({
    variant_id: z.uuid(),
    quantity: z.number().int().min(1).max(MAX_QUANTITY),
    mode: z.enum(['lottery', 'fcfs']),
    opens_at: z.iso.datetime({ offset: true }),
    closes_at: z.iso.datetime({ offset: true }).optional().openapi({ description: 'lottery: end of registration (required); fcfs: end of the sale' }),
    claim_window_seconds: z.number().int().min(1).max(MAX_CLAIM_WINDOW_SECONDS).optional().openapi({ description: 'lottery: how long a winner may claim (default 48 h)' }),
    price_cents: z.number().int().min(1).max(MAX_PRICE_CENTS).optional().openapi({ description: "Default: the variant's catalog price" }),
    admission_per_second: z.number().positive().max(100_000).optional().openapi({ description: 'fcfs: shoppers admitted per second (default 10)' }),
  })
  .superRefine((b, ctx) => {
    if (b.mode === 'lottery' && !b.closes_at) ctx.addIssue({ code: 'custom', path: ['closes_at'], message: 'a lottery needs the end of its registration' });
    if (b.closes_at && Date.parse(b.closes_at) <= Date.parse(b.opens_at)) ctx.addIssue({ code: 'custom', path: ['closes_at'], message: 'must be after opens_at' });
    if (b.closes_at && Date.parse(b.closes_at) <= Date.now()) ctx.addIssue({ code: 'custom', path: ['closes_at'], message: 'must be in the future' });
  })
  .openapi('CreateDropRequest');

const EntryBody = z.strictObject({ payment_method: PaymentMethod }).openapi('DropEntryRequest');
const ClaimBody = z
  .strictObject({ shipping_address: Address, payment_method: PaymentMethod.optional().openapi({ description: 'Default: the card saved with the entry' }) })
  .openapi('DropClaimRequest');

const DROP_STATUSES = ['scheduled', 'open', 'drawing', 'claiming', 'sold_out', 'closed'] as const;
const ENTRY_STATUSES = ['entered', 'won', 'waitlisted', 'claimed', 'expired', 'lost'] as const;

const DropSchema = z
  .object({
    id: z.uuid(),
    store_id: z.uuid(),
    variant_id: z.uuid(),
    mode: z.enum(['lottery', 'fcfs']),
    status: z.enum(DROP_STATUSES),
    quantity: z.number().int(),
    sold: z.number().int(),
    remaining: z.number().int(),
    price_cents: z.number().int(),
    currency: z.string(),
    opens_at: z.iso.datetime(),
    closes_at: z.iso.datetime().nullable(),
    claim_window_seconds: z.number().int(),
    admission_per_second: z.number(),
    seed_commitment: z.string().openapi({ description: 'sha256(seed), hex; the seed is revealed by GET /draw after the draw' }),
    entries_hash: z.string().nullable().openapi({ description: 'Published when registration closes: sha256 over the sorted entry ids' }),
    entries_count: z.number().int().optional().openapi({ description: 'lottery only' }),
    drawn_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
  })
  .openapi('Drop');

const EntrySchema = z
  .object({
    id: z.uuid(),
    drop_id: z.uuid(),
    status: z.enum(ENTRY_STATUSES),
    payment_method: z.string(),
    rank: z.number().int().nullable().openapi({ description: 'Place in the published ranking (after the draw)' }),
    claim_expires_at: z.iso.datetime().optional(),
    waitlist_position: z.number().int().optional().openapi({ description: 'While waitlisted: 1 = next to be promoted' }),
    order_id: z.uuid().optional(),
    created_at: z.iso.datetime(),
  })
  .openapi('DropEntry');

const DrawSchema = z
  .object({
    drop_id: z.uuid(),
    seed: z.string(),
    seed_commitment: z.string(),
    entries_hash: z.string(),
    entries_count: z.number().int(),
    quantity: z.number().int(),
    algorithm: z.string(),
    ranking: z.array(z.uuid()).openapi({ description: 'Entry ids, rank 1 first' }),
    winners: z.array(z.uuid()).openapi({ description: 'The first `quantity` of the ranking' }),
    drawn_at: z.iso.datetime(),
  })
  .openapi('DropDraw');

const described = (description: string) => ({ description });
const claimExpired = () => new Problem(410, 'claim_expired', 'Claim window over', 'Your claim window has passed; the unit went to the next entrant on the waitlist.');
/** Rolls back a superseded attempt's release (see nextAttempt). */
class StaleAttempt extends Error {}

/** A claim that may not start: the entry as found under the drop lock; `ownHold`: the hold rolled back was this request's. */
class ClaimRefused extends Error {
  constructor(
    readonly entry: EntryRow & { window_open: boolean },
    readonly ownHold: boolean,
  ) {
    super('claim refused');
  }
}

const notALottery = () => problems.conflict('not_a_lottery', 'This drop is first-come-first-served; join its queue instead.');

function entryJson(e: EntryRow, waitlistPosition?: number) {
  return {
    id: e.id,
    drop_id: e.drop_id,
    status: e.status,
    payment_method: e.payment_method,
    rank: e.rank,
    ...(e.status === 'won' && e.claim_expires_at ? { claim_expires_at: e.claim_expires_at.toISOString() } : {}),
    ...(waitlistPosition !== undefined ? { waitlist_position: waitlistPosition } : {}),
    ...(e.order_id ? { order_id: e.order_id } : {}),
    created_at: e.created_at.toISOString(),
  };
}

export function registerDropRoutes(api: Api, deps: AppDeps): void {
  const { db, config, logger } = deps;
  const limiter = new DropRateLimiter(deps.redis, config);
  const payments = createPaymentService(deps);
  const hotStock = new HotStock(deps.redis, db, logger);

  const unavailable = () =>
    new Problem(503, 'workflow_unavailable', 'Service unavailable', 'The workflow could not be reached right now; retry with the same Idempotency-Key. Retrying is safe.', {}, { 'Retry-After': '5' });

  /** A lottery drop, or 404 / 409. */
  async function lottery(dropId: string): Promise<DropRow> {
    const d = await loadDrop(db, dropId);
    if (!d) throw problems.notFound('drop');
    if (d.mode !== 'lottery') throw notALottery();
    return d;
  }

  async function orderSummary(orderId: string) {
    const o = (await db('orders').where({ id: orderId }).first('id', 'store_id', 'customer_id', 'status', 'currency', 'subtotal_cents', 'total_cents', 'created_at', 'updated_at')) as Record<string, unknown>;
    return {
      ...o,
      subtotal_cents: Number(o.subtotal_cents),
      total_cents: Number(o.total_cents),
      created_at: (o.created_at as Date).toISOString(),
      updated_at: (o.updated_at as Date).toISOString(),
    };
  }

  /**
   * Wakes the drop's workflow after a claim attempt when it changes what the workflow waits for: the last unit
   * was sold (the drop ends and the rest are told at once), or the attempt ended after its window, whose expiry
   * it had held back. Other claims are read at the next window's end, which keeps signals far below history
   * limits however large the drop. Best effort: the workflow would see it at its next timer anyway.
   */
  async function announceClaim(dropId: string, e: EntryRow): Promise<void> {
    const d = await loadDrop(db, dropId);
    if (!d || (d.sold < d.quantity && e.claim_expires_at!.getTime() > Date.now())) return;
    try {
      await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) => client.workflow.getHandle<DropWorkflow>(dropWorkflowId(dropId)).signal(dropClaimedSignal));
    } catch (err) {
      logger.warn({ err, dropId }, 'drop workflow not told about a claim; it sees it at the next window end');
    }
  }

  async function claimed(d: DropRow, e: EntryRow, orderId: string) {
    await markClaimed(db, e.id, orderId);
    await announceClaim(d.id, e);
    return { status: 201, body: await orderSummary(orderId) };
  }

  /**
   * Holds the claim's one unit in the entry's cart, exclusive with settleClaims: the same transaction that takes
   * the unit share-locks the drop row (settleClaims locks it for update) and re-reads the entry, and commits the
   * hold before the lock goes. So a window's end either sees this hold (and lets the claim finish) or expired the
   * entry first (ClaimRefused, nothing held). The entry is claimable while it is won and its window is open, or
   * while a claim of it (a double click under another key) already holds its unit: every hold was taken in the
   * window. One connection throughout: a claim never waits for the pool while it holds one.
   * Lock order as everywhere: inventory (the hold), then the drop row.
   */
  async function holdClaimUnit(d: DropRow, e: EntryRow, ownerId: string): Promise<EntryRow> {
    try {
      return await db.transaction(async (trx) => {
        const held = () => heldLines(trx, e.id).then((lines) => lines.has(d.variant_id));
        let heldByAnother = await held();
        try {
          const request = { cartId: e.id, storeId: d.store_id, variantId: d.variant_id, ownerId, quantity: 1, unitPriceCents: d.price_cents, dropId: d.id };
          await openHeldCart({ ...deps, db: trx, hotStock: new HotStock(deps.redis, trx, logger) }, request);
        } catch (err) {
          // The double click took the last unit in stock for this entry while this one waited for it.
          if (!(err instanceof InsufficientStockError) || !(await held())) throw err;
          heldByAnother = true;
        }
        await trx('drops').where({ id: d.id }).forShare().first('id');
        const now = (await trx('drop_entries').where({ id: e.id }).first('*', trx.raw('claim_expires_at > now() AS window_open'))) as EntryRow & { window_open: boolean };
        if (now.status !== 'won' || !(now.window_open || heldByAnother)) throw new ClaimRefused(now, !heldByAnother);
        return now;
      });
    } catch (err) {
      if (err instanceof ClaimRefused && err.ownHold) {
        // Rolled back: what this request took in the hot-stock counter and its cart document go too.
        if (await hotStock.isHot(d.store_id, d.variant_id)) await hotStock.giveBack(d.variant_id, 1, e.id);
        await forgetCart(deps.redis, e.id);
      }
      throw err;
    }
  }

  /** The answer to a claim of an entry that cannot start one: 410 after its window, 409 when it is no winner. */
  function refuseClaim(e: EntryRow, windowOpen = e.claim_expires_at !== null && e.claim_expires_at.getTime() > Date.now()): Problem | undefined {
    if (e.status === 'expired' || (e.status === 'won' && !windowOpen)) return claimExpired();
    if (e.status !== 'won') return problems.conflict('not_a_winner', e.status === 'waitlisted' ? 'You are on the waitlist; you can claim only when promoted.' : `Your entry is ${e.status}.`);
    return undefined;
  }

  /**
   * After an attempt that sold nothing: the unit goes back (a held unit would keep the window from expiring,
   * see settleClaims) and the next attempt is a new checkout (another card may be tried within the window).
   * Only while the entry is still at this attempt, in one transaction: a stale attempt (a double click's second
   * answer) never releases the unit a newer attempt holds. Release before the entry row (the lock order of
   * holdClaimUnit and settleClaims); the hot-stock counter follows once committed.
   */
  async function nextAttempt(d: DropRow, e: EntryRow): Promise<void> {
    const released = await db
      .transaction(async (trx) => {
        const r = await releaseCart(trx, e.id);
        const moved = await trx('drop_entries').where({ id: e.id, claim_attempt: e.claim_attempt }).update({ claim_attempt: e.claim_attempt + 1, updated_at: trx.fn.now() });
        if (!moved) throw new StaleAttempt();
        return r.released;
      })
      .catch((err: unknown) => {
        if (err instanceof StaleAttempt) return 0;
        throw err;
      });
    if (released > 0 && (await hotStock.isHot(d.store_id, d.variant_id))) await hotStock.adjust(d.variant_id, released);
  }

  const runs = checkoutRuns(deps);

  api.route(
    {
      method: 'post',
      path: '/v1/stores/{store_id}/drops',
      operationId: 'createDrop',
      summary: "Schedule a drop of one of the store's variants, by lottery or first-come (store owner)",
      tags: ['drops'],
      auth: ['merchant'],
      params: uuidParam('store_id'),
      body: CreateDropBody,
      responses: {
        201: { description: 'The drop, scheduled, with its seed commitment', schema: DropSchema },
        404: described('No such store of yours, or no such variant in it'),
        503: described('`workflow_unavailable`: nothing was created; retry'),
      },
    },
    async ({ params, body, principal }) => {
      const caller = requirePrincipal(principal);
      const store = await findStore(db, params.store_id);
      if (!store || !canManage(caller, store.owner_id)) throw problems.notFound('store');
      const variant = (await db('variants as v')
        .join('products as p', 'p.id', 'v.product_id')
        .where({ 'v.id': body.variant_id, 'v.store_id': store.id })
        .first(db.raw('p.base_price_cents + v.price_modifier_cents as price_cents'))) as { price_cents: string | number } | undefined;
      if (!variant) throw problems.notFound('variant');
      const seed = randomBytes(32).toString('hex');
      const row = await db.transaction(async (trx) => {
        const [inserted] = (await trx('drops')
          .insert({
            store_id: store.id,
            variant_id: body.variant_id,
            created_by: caller.id,
            mode: body.mode,
            quantity: body.quantity,
            price_cents: body.price_cents ?? Number(variant.price_cents),
            currency: store.currency,
            opens_at: new Date(body.opens_at),
            closes_at: body.closes_at ? new Date(body.closes_at) : null,
            ...(body.claim_window_seconds ? { claim_window_seconds: body.claim_window_seconds } : {}),
            ...(body.admission_per_second ? { admission_per_second: body.admission_per_second } : {}),
            seed,
            seed_commitment: seedCommitment(seed),
          })
          .returning('id')) as Array<{ id: string }>;
        const d = (await loadDrop(trx, inserted!.id))!;
        // Started inside the transaction: a failed start creates nothing; a commit that fails after the start
        // leaves a workflow that finds no drop row and ends once that is past its grace (DropNotFound).
        try {
          await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) =>
            client.workflow.start<DropWorkflow>(DROP_WORKFLOW, {
              workflowId: dropWorkflowId(d.id),
              taskQueue: config.TASK_QUEUE,
              args: [dropWorkflowInput(d)],
              workflowIdConflictPolicy: 'FAIL',
              workflowIdReusePolicy: 'REJECT_DUPLICATE',
              typedSearchAttributes: [
                { key: DropId, value: d.id },
                { key: StoreId, value: d.store_id },
                { key: Status, value: d.status },
              ],
              staticSummary: `${d.mode === 'lottery' ? 'Lottery' : 'First-come'} drop of ${d.quantity} × variant ${d.variant_id} at store ${store.slug}`,
              staticDetails: `opens ${d.opens_at.toISOString()}${d.closes_at ? `, closes ${d.closes_at.toISOString()}` : ''}; price ${d.price_cents} ${d.currency}`,
            }),
          );
        } catch (err) {
          logger.error({ err, dropId: d.id }, 'could not start the drop workflow');
          throw unavailable();
        }
        return d;
      });
      return { status: 201, body: dropJson(row, row.mode === 'lottery' ? 0 : undefined) };
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/drops/{id}',
      operationId: 'getDrop',
      summary: 'A drop: status, quantity, sold, seed commitment (and entries hash once registration closed)',
      tags: ['drops'],
      auth: 'public',
      params: uuidParam('id'),
      responses: { 200: { description: 'The drop', schema: DropSchema }, 404: described('No such drop') },
    },
    async ({ params }) => {
      const body = await renderDrop(db, params.id);
      if (!body) throw problems.notFound('drop');
      return { status: 200, body };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/drops/{id}/entries',
      operationId: 'enterDrop',
      summary: 'Enter a lottery drop (one entry per account); the card is saved now and charged only if you claim a win',
      tags: ['drops'],
      auth: 'user',
      idempotency: 'required',
      params: uuidParam('id'),
      body: EntryBody,
      responses: {
        201: { description: 'Entered', schema: EntrySchema },
        402: described('`payment_declined`: the card could not be saved'),
        404: described('No such drop'),
        409: described('`already_entered`, or `not_a_lottery`'),
        422: described('`registration_closed`: before opens_at or after closes_at; or `payment_method_rejected`'),
        429: described('`rate_limited` (per account and per address), with Retry-After'),
      },
    },
    async ({ req, params, body, principal }) => {
      const me = requirePrincipal(principal);
      await limiter.consume('entry', { userId: me.id, ip: req.ip });
      const d = await lottery(params.id);
      const now = Date.now();
      const registrationClosed = () =>
        problems.unprocessable('registration_closed', `Entries are taken from ${d.opens_at.toISOString()} until ${d.closes_at!.toISOString()}.`);
      // The window is the stored instants, not the workflow's progress: a busy worker marking the drop open a
      // moment late must not turn away an entrant who came on time.
      const registering = (d.status === 'scheduled' || d.status === 'open') && now >= d.opens_at.getTime() && now < d.closes_at!.getTime();
      if (!registering) throw registrationClosed();
      if (await findEntry(db, d.id, me.id)) throw problems.conflict('already_entered', 'You have entered this drop already.');

      // SetupIntent semantics: the card is saved for an off-session charge if this entry wins.
      // Keyed by the card too: a declined card stays declined on retry, another card is a new save.
      const paymentKey = `drop:${d.id}:entry:${me.id}:${createHash('sha256').update(body.payment_method).digest('hex').slice(0, 16)}`;
      let saved: PaymentRecord;
      try {
        saved = await payments.savePaymentMethod({ businessKey: paymentKey, paymentMethod: body.payment_method, customerRef: me.id, email: me.email });
      } catch (err) {
        if (err instanceof PaymentRequestError) throw problems.unprocessable('payment_method_rejected', `The payment provider refused the payment method: ${err.message}`, { reason: err.code });
        if (err instanceof PaymentNotAllowedError) throw problems.conflict('payment_not_allowed', err.message);
        logger.error({ err }, 'payment provider call failed while saving a drop entry card');
        throw problems.unavailable('payment_unavailable', 'The payment provider could not be reached; retry the same request.');
      }
      if (saved.status !== 'succeeded') {
        throw new Problem(402, 'payment_declined', 'Payment declined', saved.failureMessage ?? 'The card could not be saved.', { decline_code: saved.declineCode ?? saved.failureCode });
      }

      // The drop row is share-locked while the entry goes in, so closing (which locks it for update and then
      // hashes the entries) sees either this entry or a closed drop, never half of both.
      const entry = await db.transaction(async (trx) => {
        const open = await trx('drops')
          .where({ id: d.id })
          .whereIn('status', ['scheduled', 'open'])
          .andWhere('opens_at', '<=', trx.fn.now())
          .andWhere('closes_at', '>', trx.fn.now())
          .forShare()
          .first('id');
        if (!open) throw registrationClosed();
        const [row] = (await trx('drop_entries')
          .insert({ drop_id: d.id, user_id: me.id, payment_method: body.payment_method, payment_key: paymentKey })
          .onConflict(['drop_id', 'user_id'])
          .ignore()
          .returning('*')) as EntryRow[];
        if (!row) throw problems.conflict('already_entered', 'You have entered this drop already.');
        return row;
      });
      return { status: 201, body: entryJson(entry) };
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/drops/{id}/entries/me',
      operationId: 'getMyDropEntry',
      summary: 'Your entry: entered, won (with claim_expires_at), waitlisted (with waitlist_position), claimed, expired or lost',
      tags: ['drops'],
      auth: 'user',
      params: uuidParam('id'),
      responses: { 200: { description: 'Your entry', schema: EntrySchema }, 404: described('No such drop, or you have not entered it') },
    },
    async ({ params, principal }) => {
      const me = requirePrincipal(principal);
      const e = await findEntry(db, params.id, me.id);
      if (!e) throw problems.notFound('entry');
      let position: number | undefined;
      if (e.status === 'waitlisted' && e.rank !== null) {
        const ahead = (await db('drop_entries').where({ drop_id: e.drop_id, status: 'waitlisted' }).andWhere('rank', '<', e.rank).count('* as n').first()) as { n: string };
        position = Number(ahead.n) + 1;
      }
      return { status: 200, body: entryJson(e, position) };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/drops/{id}/claim',
      operationId: 'claimDrop',
      summary: 'Claim a win within its window: one order through the checkout saga (the saved card unless another is given)',
      tags: ['drops'],
      auth: 'user',
      idempotency: 'required',
      params: uuidParam('id'),
      body: ClaimBody,
      responses: {
        201: { description: 'The order, confirmed and paid (the same order for every retry)', schema: OrderSummarySchema },
        402: described('`payment_declined` or `requires_action`; the window stays open, retry with another card'),
        404: described('No such drop, or you have not entered it'),
        409: described('`draw_pending`, `not_a_winner` (waitlisted or lost), `sold_out`, `not_a_lottery`'),
        410: described('`claim_expired`: the window has passed'),
        422: described('`checkout_expired`: the checkout could not finish in time; retry'),
        429: described('`rate_limited`'),
      },
    },
    async ({ req, params, body, principal }) => {
      const me = requirePrincipal(principal);
      await limiter.consume('claim', { userId: me.id, ip: req.ip });
      const d = await lottery(params.id);
      const e = await findEntry(db, d.id, me.id);
      if (!e) throw problems.notFound('entry');
      if (e.order_id) return { status: 201, body: await orderSummary(e.order_id) };
      if (!d.drawn_at) throw problems.conflict('draw_pending', 'The draw has not happened yet.');
      const refusal = refuseClaim(e);
      if (refusal) throw refusal;

      // A claim whose request died after the checkout made the order: that order is the answer.
      const made = (await db('orders').where({ checkout_key: claimCheckoutKey(d.id, e.id, e.claim_attempt) }).whereNot({ status: 'cancelled' }).first('id')) as { id: string } | undefined;
      if (made) return claimed(d, e, made.id);

      let attempt: EntryRow;
      try {
        // The entry id names the cart: every attempt of this claim holds the same one unit. The attempt is the
        // one read under the drop lock (a double click's failed attempt may have moved it on meanwhile).
        attempt = await holdClaimUnit(d, e, me.id);
      } catch (err) {
        if (err instanceof InsufficientStockError) throw problems.conflict('sold_out', 'No unit of this drop is left in stock.');
        if (!(err instanceof ClaimRefused)) throw err;
        const now = err.entry;
        if (now.order_id) return { status: 201, body: await orderSummary(now.order_id) };
        throw refuseClaim(now, now.window_open) ?? claimExpired();
      }
      const checkoutKey = claimCheckoutKey(d.id, e.id, attempt.claim_attempt);
      const result = await runs.run(
        {
          checkoutKey,
          cartId: e.id,
          storeId: d.store_id,
          customerId: me.id,
          items: [{ variant_id: d.variant_id, quantity: 1, unit_price_cents: d.price_cents }],
          currency: d.currency,
          paymentMethod: body.payment_method ?? e.payment_method,
          shippingAddress: body.shipping_address,
          billingAddress: null,
          holdMs: config.RESERVATION_TTL,
          dropId: d.id,
        },
        `Claim of drop ${d.id} by entry ${e.id} (attempt ${attempt.claim_attempt})`,
      );
      if (result.status === 'confirmed') return claimed(d, e, result.orderId);
      await nextAttempt(d, attempt);
      await announceClaim(d.id, attempt);
      if (result.status === 'payment_failed') {
        throw new Problem(402, result.code, 'Payment failed', result.code === 'requires_action'
            ? 'The card needs authentication; use another card.'
            : result.code === 'payment_not_captured'
              ? 'The payment could not be taken; nothing was charged and your window is still open, try again.'
              : 'The card was declined; your window is still open, try another card.', {
          decline_code: result.declineCode,
        });
      }
      if (result.status === 'expired') throw problems.unprocessable('checkout_expired', 'The checkout could not finish while the unit was held; retry.');
      throw problems.conflict('sold_out', 'The unit could not be sold to you (sold out or no longer held).');
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/drops/{id}/draw',
      operationId: 'getDropDraw',
      summary: 'The published draw: seed, commitment, entries hash, algorithm, ranking and winners (after the draw)',
      tags: ['drops'],
      auth: 'public',
      params: uuidParam('id'),
      responses: {
        200: { description: 'Everything needed to recompute the draw (npm run verify-draw)', schema: DrawSchema },
        404: described('No such drop'),
        409: described('`draw_pending`: not drawn yet; or `not_a_lottery`'),
      },
    },
    async ({ params }) => {
      const d = await lottery(params.id);
      if (!d.drawn_at || !d.entries_hash) throw problems.conflict('draw_pending', 'The draw has not happened yet; the seed is revealed after it.');
      const ranking = await publishedRanking(db, d.id);
      return {
        status: 200,
        body: {
          drop_id: d.id,
          seed: (await drawSecret(db, d.id))!,
          seed_commitment: d.seed_commitment,
          entries_hash: d.entries_hash,
          entries_count: d.entries_count ?? ranking.length,
          quantity: d.quantity,
          algorithm: DRAW_ALGORITHM,
          ranking,
          winners: ranking.slice(0, d.quantity),
          drawn_at: d.drawn_at.toISOString(),
        },
      };
    },
  );
}
