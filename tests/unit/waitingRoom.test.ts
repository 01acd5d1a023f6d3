import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { admissionPace, admissionsNow, decide, etaSeconds, preOpenAhead, type RoomState } from '../../src/domain/waitingRoom';
import { issueQueueToken, verifyQueueToken } from '../../src/drops/queueTokens';
import { issueToken } from '../../src/accounts/tokens';
import { asProblem, type Problem } from '../../src/api/http/problem';

/** The waiting room's pure rules (pace, capacity, ETA, what the sale does next) and its signed tokens. */
describe('waiting room rules', () => {
  it('paces admission in ticks of at least a second that never exceed the rate', () => {
    expect(admissionPace(10)).toEqual({ tickMs: 1000, batch: 10 });
    expect(admissionPace(2.5)).toEqual({ tickMs: 1000, batch: 2 });
    expect(admissionPace(0.5)).toEqual({ tickMs: 2000, batch: 1 });
    expect(admissionPace(0.3)).toEqual({ tickMs: 3334, batch: 1 });
    for (const rate of [0.1, 0.3, 0.7, 1, 1.5, 3, 7.9, 10, 250, 1e5]) {
      const pace = admissionPace(rate);
      expect(pace.batch).toBeGreaterThanOrEqual(1);
      expect(pace.batch / (pace.tickMs / 1000)).toBeLessThanOrEqual(rate);
    }
    expect(() => admissionPace(0)).toThrow(RangeError);
    expect(() => admissionPace(Number.NaN)).toThrow(RangeError);
  });

  it('admits no more than the batch left this tick, the free units and who is waiting', () => {
    const pace = { tickMs: 1000, batch: 10 };
    const base = { pace, admittedThisTick: 0, quantity: 25, sold: 0, holding: 0, waiting: 1000 };
    expect(admissionsNow(base)).toBe(10);
    expect(admissionsNow({ ...base, admittedThisTick: 7 })).toBe(3);
    expect(admissionsNow({ ...base, admittedThisTick: 12 })).toBe(0);
    expect(admissionsNow({ ...base, sold: 10, holding: 12 })).toBe(3);
    expect(admissionsNow({ ...base, sold: 20, holding: 6 })).toBe(0);
    expect(admissionsNow({ ...base, waiting: 4 })).toBe(4);
  });

  it('estimates the wait from the shoppers ahead, the pace and the time until the opening', () => {
    expect(etaSeconds({ ahead: 0, admissionPerSecond: 10 })).toBe(0);
    expect(etaSeconds({ ahead: 9, admissionPerSecond: 10 })).toBe(0);
    expect(etaSeconds({ ahead: 10, admissionPerSecond: 10 })).toBe(1);
    expect(etaSeconds({ ahead: 95, admissionPerSecond: 10 })).toBe(9);
    expect(etaSeconds({ ahead: 3, admissionPerSecond: 0.5 })).toBe(6);
    expect(etaSeconds({ ahead: 10, admissionPerSecond: 10, msUntilOpen: 4_500 })).toBe(6);
    expect(preOpenAhead(1)).toBe(0);
    expect(preOpenAhead(101)).toBe(50);
  });

  describe('what the sale does after a step', () => {
    const state = (s: Partial<RoomState>): RoomState => ({
      quantity: 25,
      sold: 0,
      holding: 0,
      waiting: 0,
      admittedNow: 0,
      msUntilNextTick: 0,
      msUntilNextExpiry: null,
      stockShort: false,
      ...s,
    });
    const opts = { pollMs: 1000, idleMs: 30_000, slackMs: 100 };

    it('ends sold out only when every unit is sold', () => {
      expect(decide(state({ sold: 25, waiting: 50 }), opts)).toEqual({ kind: 'sold_out' });
      expect(decide(state({ sold: 25, stockShort: true }), opts)).toEqual({ kind: 'sold_out' });
    });

    it('waits out a short variant (ordinary carts hold its units for a while), polling and awake to nudges, even with nobody holding', () => {
      expect(decide(state({ stockShort: true, waiting: 50 }), opts)).toEqual({ kind: 'wait', ms: 1000, wakeOnChange: true, reason: 'stock' });
      expect(decide(state({ stockShort: true, waiting: 50, sold: 24 }), opts)).toEqual({ kind: 'wait', ms: 1000, wakeOnChange: true, reason: 'stock' });
    });

    it('keeps the pace while units are free and people wait, deaf to nudges', () => {
      expect(decide(state({ waiting: 50, holding: 10, msUntilNextTick: 1000 }), opts)).toEqual({ kind: 'wait', ms: 1000, wakeOnChange: false, reason: 'pace' });
    });

    it('with every unit held, waits for the first hold to end or a nudge, checking purchases each poll', () => {
      expect(decide(state({ waiting: 50, holding: 25, msUntilNextExpiry: 400 }), opts)).toEqual({ kind: 'wait', ms: 500, wakeOnChange: true, reason: 'holds' });
      expect(decide(state({ waiting: 50, holding: 25, msUntilNextExpiry: 60_000 }), opts)).toEqual({ kind: 'wait', ms: 1000, wakeOnChange: true, reason: 'holds' });
      expect(decide(state({ waiting: 0, sold: 20, holding: 5, msUntilNextExpiry: 60_000 }), opts).kind).toBe('wait');
      expect(decide(state({ stockShort: true, waiting: 5, holding: 2, msUntilNextExpiry: 300 }), opts)).toMatchObject({ reason: 'holds' });
    });

    it('idles until a joiner nudges it when nobody waits or holds', () => {
      expect(decide(state({ sold: 3 }), opts)).toEqual({ kind: 'wait', ms: 30_000, wakeOnChange: true, reason: 'idle' });
    });
  });
});

describe('queue tokens', () => {
  const config = { JWT_SECRET: 'x'.repeat(40), DROP_QUEUE_TOKEN_TTL: 60_000, TOKEN_TTL_SECONDS: 3600 };
  const claims = { queueId: randomUUID(), dropId: randomUUID(), userId: randomUUID() };

  function problemOf(fn: () => unknown): Problem {
    try {
      fn();
    } catch (err) {
      const problem = asProblem(err);
      if (problem) return problem;
      throw err;
    }
    throw new Error('expected a problem');
  }

  it('round-trips the place it names, valid for the TTL after the later of now and the opening', () => {
    const now = Date.now();
    const issued = issueQueueToken(config, claims, new Date(now - 5_000), now);
    expect(verifyQueueToken(config, issued.token, claims.dropId)).toMatchObject(claims);
    expect(Math.abs(issued.expiresAt.getTime() - (now + 60_000))).toBeLessThan(1_000);
    const early = issueQueueToken(config, claims, new Date(now + 3_600_000), now);
    expect(Math.abs(early.expiresAt.getTime() - (now + 3_660_000))).toBeLessThan(1_000);
  });

  it('refuses expired (410), another drop\'s, forged, altered and bearer tokens (404)', () => {
    const expired = issueQueueToken(config, claims, new Date(0), Date.now() - 120_000).token;
    expect(problemOf(() => verifyQueueToken(config, expired, claims.dropId))).toMatchObject({ status: 410, code: 'queue_token_expired' });

    const good = issueQueueToken(config, claims, new Date()).token;
    expect(problemOf(() => verifyQueueToken(config, good, randomUUID()))).toMatchObject({ status: 404, code: 'queue_token_invalid' });

    const forged = jwt.sign({ drop: claims.dropId, uid: claims.userId }, config.JWT_SECRET, { algorithm: 'HS256', issuer: 'pledgeflow', audience: 'pledgeflow-drop-queue', subject: claims.queueId, expiresIn: 60 });
    expect(problemOf(() => verifyQueueToken(config, forged, claims.dropId))).toMatchObject({ status: 404 });

    const [h, p, s] = good.split('.');
    const body = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const altered = `${h}.${Buffer.from(JSON.stringify({ ...body, sub: randomUUID() })).toString('base64url')}.${s}`;
    expect(problemOf(() => verifyQueueToken(config, altered, claims.dropId))).toMatchObject({ status: 404 });

    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
    expect(problemOf(() => verifyQueueToken(config, unsigned, claims.dropId))).toMatchObject({ status: 404 });

    const bearer = issueToken(config, claims.userId).token;
    expect(problemOf(() => verifyQueueToken(config, bearer, claims.dropId))).toMatchObject({ status: 404 });
  });
});
