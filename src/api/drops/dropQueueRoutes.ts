import { z } from 'zod';
import type { Api } from '../http/api';
import { problems } from '../http/problem';
import type { AppDeps } from '../deps';
import { requirePrincipal } from '../../accounts/authorization';
import type { Principal } from '../../domain/roles';
import { forgetCart } from '../../commerce/heldCart';
import { HotStock } from '../../commerce/hotStock';
import { releaseCart } from '../../commerce/reservations';
import { DropRateLimiter } from '../../drops/rateLimit';
import { drawSecret, loadDrop, type DropRow } from '../../drops/repository';
import { issueQueueToken, queueTokenInvalid, verifyQueueToken } from '../../drops/queueTokens';
import { describePlace, findPlace, joinQueue, leaveQueue, publishedShuffle, QueueClosedError, takeIdleFlag, type PlaceView, type QueueRow } from '../../drops/waitingRoom';
import { dropWorkflowId, queueChangedSignal } from '../../drops/contract';

/**
 * The first-come waiting room (API.md, "Drops"; DESIGN.md, "Drops rules"): join (one place per account, rate
 * limited), read one's place with its ETA, leave. A place is addressed by its signed, expiring token, so a
 * waiting-room page can poll without anything else; a signed-in caller must be the place's owner. Leaving
 * needs the owner signed in: tokens travel in URLs (and so in logs), and reading a place is harmless, giving
 * it up is not.
 * Admission itself is the `drop:<id>` workflow's (src/workflows/drops/fcfsSale.ts).
 */

const QUEUE_STATUSES = ['waiting', 'admitted', 'purchased', 'left', 'expired', 'closed'] as const;

const TokenParams = z.object({
  id: z.uuid(),
  token: z
    .string()
    .max(2048)
    .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'must be a queue token')
    .openapi({ description: 'The token POST /queue answered with' }),
});

const PlaceFields = {
  status: z.enum(QUEUE_STATUSES).openapi({ description: 'waiting → admitted → purchased; or left, expired (the hold ran out), closed (sold out or ended)' }),
  position: z
    .number()
    .int()
    .nullable()
    .openapi({ description: 'Place in the serving order (never reused). null until the opening for those who came early: they are shuffled then' }),
  ahead: z.number().int().openapi({ description: 'Shoppers still waiting before you (before the opening: an estimate)' }),
  eta_seconds: z.number().int().openapi({ description: 'Estimated seconds until admission at the drop\'s admission rate, if units stay free' }),
  admitted: z.boolean(),
  cart_id: z.uuid().optional().openapi({ description: 'When admitted: your cart holding one unit at the drop price; check it out with POST /v1/checkout' }),
  admitted_until: z.iso.datetime().optional().openapi({ description: 'When admitted: when the hold ends and the unit goes to the next shopper' }),
};

const QueuePlaceSchema = z.object(PlaceFields).openapi('DropQueuePlace');
const QueueJoinSchema = z
  .object({
    token: z.string().openapi({ description: 'Signed; names this place. Keep it: GET and DELETE /queue/{token} use it' }),
    token_expires_at: z.iso.datetime(),
    existing: z.boolean().optional().openapi({ description: 'true when the account was already in line: the same place, with a fresh token' }),
    ...PlaceFields,
  })
  .openapi('DropQueueJoin');

const ShuffleSchema = z
  .object({
    drop_id: z.uuid(),
    seed: z.string(),
    seed_commitment: z.string().openapi({ description: 'sha256(seed), published when the drop was created' }),
    algorithm: z.string(),
    early_arrivals: z.array(z.uuid()).openapi({ description: 'Place ids of everyone who joined before opens_at, in serving order (position 1 first)' }),
  })
  .openapi('DropQueueShuffle');

const SHUFFLE_ALGORITHM =
  'early arrivals (joined before opens_at) are served in the order of their place ids sorted ascending by HMAC-SHA256(key = seed, message = place id) in hex, ' +
  'positions 1..n; later arrivals follow in arrival order; seed_commitment = SHA-256(seed); a place id is the `sub` of its queue token';

const described = (description: string) => ({ description });

export function registerDropQueueRoutes(api: Api, deps: AppDeps): void {
  const { db, redis, config, logger } = deps;
  const limiter = new DropRateLimiter(redis, config);
  const hotStock = new HotStock(redis, db, logger);

  async function fcfsDrop(dropId: string): Promise<DropRow> {
    const d = await loadDrop(db, dropId);
    if (!d) throw problems.notFound('drop');
    if (d.mode !== 'fcfs') throw problems.conflict('not_first_come', 'This drop is a lottery; enter it with POST /v1/drops/{id}/entries instead.');
    return d;
  }

  /**
   * The place a token names, when it is this drop's and (for a signed-in caller) the caller's. Another account's
   * token is answered like a forged one: it names no place of the caller's.
   */
  async function placeOf(drop: DropRow, token: string, principal: Principal | undefined): Promise<QueueRow> {
    const claims = verifyQueueToken(config, token, drop.id);
    if (principal && principal.id !== claims.userId) throw queueTokenInvalid();
    const row = await findPlace(db, drop.id, claims.queueId);
    if (!row || row.user_id !== claims.userId) throw queueTokenInvalid();
    return row;
  }

  /** Best effort: the workflow looks again at its next poll anyway. */
  async function nudge(dropId: string): Promise<void> {
    try {
      await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) => client.workflow.getHandle(dropWorkflowId(dropId)).signal(queueChangedSignal));
    } catch (err) {
      logger.warn({ err, dropId }, 'waiting room not nudged; it looks again at its next poll');
    }
  }

  const view = (drop: DropRow, row: QueueRow): Promise<PlaceView> => describePlace(db, drop, row);

  api.route(
    {
      method: 'post',
      path: '/v1/drops/{id}/queue',
      operationId: 'joinDropQueue',
      summary: 'Join a first-come drop\'s waiting room (one place per account: joining again returns the same place with a fresh token, `existing: true`)',
      tags: ['drops'],
      auth: 'user',
      params: z.object({ id: z.uuid() }),
      responses: {
        201: {
          description:
            'In line. Early arrivals (before opens_at) are shuffled at the opening; later ones are served in arrival order. Already in line: the same place with a fresh token and `existing: true`',
          schema: QueueJoinSchema,
        },
        404: described('No such drop'),
        409: described('`not_first_come` (a lottery drop), or `drop_sold_out`'),
        422: described('`drop_closed`: the sale has ended'),
        429: described('`rate_limited` (per account and per address), with Retry-After'),
      },
    },
    async ({ req, params, principal }) => {
      const me = requirePrincipal(principal);
      await limiter.consume('queue', { userId: me.id, ip: req.ip });
      const drop = await fcfsDrop(params.id);
      // Someone already in line keeps their place (and can read it) whatever happened to the drop since.
      const { row, created } = await joinQueue(db, drop, me.id).catch((err: unknown) => {
        if (!(err instanceof QueueClosedError)) throw err;
        throw err.status === 'sold_out'
          ? problems.conflict('drop_sold_out', 'Every unit of this drop has been sold.')
          : problems.unprocessable('drop_closed', 'This drop\'s sale has ended.');
      });
      if (created && !row.pre_open && (await takeIdleFlag(redis, drop.id))) await nudge(drop.id);
      const issued = issueQueueToken(config, { queueId: row.id, dropId: drop.id, userId: me.id }, drop.opens_at);
      // 201 either way (API.md): a repeat join is told apart by `existing`, not by its status.
      return {
        status: 201,
        body: { token: issued.token, token_expires_at: issued.expiresAt.toISOString(), ...(created ? {} : { existing: true }), ...(await view(drop, row)) },
      };
    },
  );

  // Before the {token} route: express matches paths in order.
  api.route(
    {
      method: 'get',
      path: '/v1/drops/{id}/queue/shuffle',
      operationId: 'getDropQueueShuffle',
      summary: 'The opening shuffle of early arrivals, published once the room opens: seed, commitment, algorithm and the serving order',
      tags: ['drops'],
      auth: 'public',
      params: z.object({ id: z.uuid() }),
      responses: {
        200: { description: 'Everything needed to recompute the serving order of early arrivals', schema: ShuffleSchema },
        404: described('No such drop'),
        409: described('`shuffle_pending`: the room has not opened yet; or `not_first_come`'),
      },
    },
    async ({ params }) => {
      const drop = await fcfsDrop(params.id);
      const order = await publishedShuffle(db, drop);
      if (!order) throw problems.conflict('shuffle_pending', 'Early arrivals are shuffled when the room opens; the seed is revealed then.');
      return {
        status: 200,
        body: { drop_id: drop.id, seed: (await drawSecret(db, drop.id))!, seed_commitment: drop.seed_commitment, algorithm: SHUFFLE_ALGORITHM, early_arrivals: order },
      };
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/drops/{id}/queue/{token}',
      operationId: 'getDropQueuePlace',
      summary: 'Your place in a drop\'s waiting room: position, shoppers ahead, ETA; once admitted, your cart and until when it is held',
      tags: ['drops'],
      auth: 'optional',
      params: TokenParams,
      responses: {
        200: { description: 'The place', schema: QueuePlaceSchema },
        400: described('Not a token at all'),
        404: described('No such drop, or `queue_token_invalid`: not a token for this drop (forged, altered, another drop\'s or another account\'s)'),
        410: described('`queue_token_expired`: join again for the same place with a fresh token'),
      },
    },
    async ({ params, principal }) => {
      const drop = await fcfsDrop(params.id);
      const row = await placeOf(drop, params.token, principal);
      return { status: 200, body: await view(drop, row) };
    },
  );

  api.route(
    {
      method: 'delete',
      path: '/v1/drops/{id}/queue/{token}',
      operationId: 'leaveDropQueue',
      summary: 'Leave a drop\'s waiting room (signed in as the place\'s owner); an admitted shopper\'s reserved unit goes to the next in line at once',
      tags: ['drops'],
      auth: 'user',
      params: TokenParams,
      responses: {
        200: { description: 'The place, now `left` (or `purchased`: the checkout finished first; final places are returned as they are)', schema: QueuePlaceSchema },
        400: described('Not a token at all'),
        401: described('Not signed in: only the place\'s owner can give it up'),
        404: described('No such drop, or `queue_token_invalid` (also another account\'s token)'),
        410: described('`queue_token_expired`'),
      },
    },
    async ({ params, principal }) => {
      const me = requirePrincipal(principal);
      const drop = await fcfsDrop(params.id);
      const row = await placeOf(drop, params.token, me);
      const left = await leaveQueue(db, row, async (cartId) => {
        await releaseCart(db, cartId, hotStock);
        await forgetCart(redis, cartId);
      });
      // A freed unit: the next shopper is let in now rather than at the room's next poll.
      if (left.releasedCartId) await nudge(drop.id);
      return { status: 200, body: await view(drop, left.row) };
    },
  );
}
