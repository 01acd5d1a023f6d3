import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import { giveUpCart } from '../commerce/cartRelease';
import { HotStock } from '../commerce/hotStock';
import { queueChangedSignal } from './contract';
import type { DropsDeps } from './deps';
import { issueQueueToken, queueTokenInvalid, verifyQueueToken } from './queueTokens';
import { DropRateLimiter } from './rateLimit';
import { dropOfMode, drawSecret, notFirstCome, type DropRow } from './repository';
import { signalDrop } from './signals';
import { createJoinBatcher } from './queueJoins';
import { describePlace, findPlace, leaveQueue, publishedShuffle, QueueClosedError, takeIdleFlag, type QueueRow } from './waitingRoom';

/**
 * The first-come waiting room as shoppers use it (API.md, "Drops"; DESIGN.md, "Drops rules"): join (one place
 * per account, rate limited), read one's place with its ETA, leave, and the published opening shuffle. A place
 * is addressed by its signed, expiring token, so a waiting-room page can poll without anything else; a
 * signed-in caller must be the place's owner. Leaving needs the owner signed in: tokens travel in URLs (and so
 * in logs), and reading a place is harmless, giving it up is not. The places themselves are waitingRoom.ts;
 * admission is the `drop:<id>` workflow's (src/workflows/drops/fcfsSale.ts).
 */

const SHUFFLE_ALGORITHM =
  'early arrivals (joined before opens_at) are served in the order of their place ids sorted ascending by HMAC-SHA256(key = seed, message = place id) in hex, ' +
  'positions 1..n; later arrivals follow in arrival order; seed_commitment = SHA-256(seed); a place id is the `sub` of its queue token';

export function createDropQueue(deps: DropsDeps) {
  const { db, redis, config } = deps;
  const limiter = new DropRateLimiter(redis, config);
  const hotStock = new HotStock(redis, db, deps.logger);

  /**
   * The place a token names, when it is this drop's and (for a signed-in caller) the caller's. Another account's
   * token is refused like a forged one: it names no place of the caller's.
   */
  async function placeOf(drop: DropRow, token: string, principal: Principal | undefined): Promise<QueueRow> {
    const claims = verifyQueueToken(config, token, drop.id);
    if (principal && principal.id !== claims.userId) throw queueTokenInvalid();
    const row = await findPlace(db, drop.id, claims.queueId);
    if (!row || row.user_id !== claims.userId) throw queueTokenInvalid();
    return row;
  }

  /** Someone new in an idle room, or a unit freed: the room looks now rather than at its next poll. */
  const nudge = (dropId: string) => signalDrop(deps, dropId, queueChangedSignal, 'waiting room not nudged; it looks again at its next poll');
  // After each batch that put someone in line: the first batch after an idle step wakes the room.
  const joins = createJoinBatcher(db, (dropId) => {
    void takeIdleFlag(redis, dropId).then((took) => (took ? nudge(dropId) : undefined));
  });

  return {
    /** A place in line (the same place, with a fresh token and `existing`, for an account already in it). */
    async join(dropId: string, caller: Principal, ip: string | undefined) {
      await limiter.consume('queue', { userId: caller.id, ip });
      const { drop, outcome } = await joins.join(dropId, caller.id);
      if (!drop) throw refusals.notFound('drop');
      if (drop.mode !== 'fcfs') throw notFirstCome();
      // Someone already in line keeps their place (and can read it) whatever happened to the drop since.
      if (outcome instanceof QueueClosedError || !outcome) {
        throw outcome?.status === 'sold_out'
          ? refusals.conflict('drop_sold_out', 'Every unit of this drop has been sold.')
          : refusals.unprocessable('drop_closed', 'This drop\'s sale has ended.');
      }
      const { row, created, view } = outcome;
      const issued = issueQueueToken(config, { queueId: row.id, dropId: drop.id, userId: caller.id }, drop.opens_at);
      return { token: issued.token, token_expires_at: issued.expiresAt.toISOString(), ...(created ? {} : { existing: true }), ...(view ?? (await describePlace(db, drop, row))) };
    },

    /** The place the token names: position, shoppers ahead, ETA; once admitted, its cart and hold. */
    async place(dropId: string, token: string, principal: Principal | undefined) {
      const drop = await dropOfMode(db, dropId, 'fcfs');
      return describePlace(db, drop, await placeOf(drop, token, principal));
    },

    /** Gives the place up; an admitted shopper's unit goes to the next in line at once. */
    async leave(dropId: string, token: string, caller: Principal) {
      const drop = await dropOfMode(db, dropId, 'fcfs');
      const row = await placeOf(drop, token, caller);
      const left = await leaveQueue(db, row, (cartId) => giveUpCart({ db, redis, hotStock }, cartId));
      if (left.releasedCartId) await nudge(drop.id);
      return describePlace(db, drop, left.row);
    },

    /** The opening shuffle of early arrivals, once the room has opened (`shuffle_pending` before). */
    async shuffle(dropId: string) {
      const drop = await dropOfMode(db, dropId, 'fcfs');
      const order = await publishedShuffle(db, drop);
      if (!order) throw refusals.conflict('shuffle_pending', 'Early arrivals are shuffled when the room opens; the seed is revealed then.');
      return { drop_id: drop.id, seed: (await drawSecret(db, drop.id))!, seed_commitment: drop.seed_commitment, algorithm: SHUFFLE_ALGORITHM, early_arrivals: order };
    },
  };
}
