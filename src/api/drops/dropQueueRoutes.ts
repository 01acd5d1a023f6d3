import { z } from 'zod';
import type { Api } from '../http/api';
import type { AppDeps } from '../deps';
import { requirePrincipal } from '../../accounts/authorization';
import { createDropQueue } from '../../drops/queue';

/**
 * The first-come waiting room (src/drops/queue.ts): join (one place per account, rate limited), read one's
 * place with its ETA, leave, and the published opening shuffle. A place is addressed by its signed, expiring
 * token; leaving needs the place's owner signed in.
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

const described = (description: string) => ({ description });

export function registerDropQueueRoutes(api: Api, deps: AppDeps): void {
  const queue = createDropQueue(deps);

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
    // 201 either way (API.md): a repeat join is told apart by `existing`, not by its status.
    async ({ req, params, principal }) => ({ status: 201, body: await queue.join(params.id, requirePrincipal(principal), req.ip) }),
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
    async ({ params }) => ({ status: 200, body: await queue.shuffle(params.id) }),
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
    async ({ params, principal }) => ({ status: 200, body: await queue.place(params.id, params.token, principal) }),
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
    async ({ params, principal }) => ({ status: 200, body: await queue.leave(params.id, params.token, requirePrincipal(principal)) }),
  );
}
