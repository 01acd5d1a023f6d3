import jwt from 'jsonwebtoken';
import { randomUUID } from 'node:crypto';
import { issueToken, TOKEN_AUDIENCE, TOKEN_ISSUER, verifyToken } from '../../src/accounts/tokens';
import { asProblem, type Problem } from '../../src/api/http/problem';

const config = { JWT_SECRET: 'a'.repeat(40), TOKEN_TTL_SECONDS: 600 };

function expect401(fn: () => unknown): Problem {
  try {
    fn();
  } catch (err) {
    const problem = asProblem(err);
    expect(problem?.status).toBe(401);
    return problem as Problem;
  }
  throw new Error('expected a 401 Problem');
}

describe('tokens', () => {
  it('round-trips the user id and expires after TOKEN_TTL_SECONDS', () => {
    const userId = randomUUID();
    const now = Date.now();
    const { token, expiresAt } = issueToken(config, userId, now);
    expect(verifyToken(config, token)).toBe(userId);
    expect(expiresAt.getTime()).toBe((Math.floor(now / 1000) + 600) * 1000);
    const claims = jwt.decode(token, { complete: true });
    expect(claims?.header.alg).toBe('HS256');
    expect(claims?.payload).toMatchObject({ sub: userId, iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE });
  });

  it('rejects an expired token', () => {
    const { token } = issueToken(config, randomUUID(), Date.now() - 601_000);
    expect(expect401(() => verifyToken(config, token)).detail).toMatch(/expired/);
  });

  it('rejects a token signed with another secret', () => {
    const { token } = issueToken({ ...config, JWT_SECRET: 'b'.repeat(40) }, randomUUID());
    expect401(() => verifyToken(config, token));
  });

  it('rejects unsigned (alg none) tokens and tokens for another audience or issuer', () => {
    const sub = randomUUID();
    const unsigned = jwt.sign({ sub, iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, exp: Math.floor(Date.now() / 1000) + 60 }, '', { algorithm: 'none' });
    expect401(() => verifyToken(config, unsigned));
    const otherAudience = jwt.sign({}, config.JWT_SECRET, { algorithm: 'HS256', subject: sub, issuer: TOKEN_ISSUER, audience: 'elsewhere', expiresIn: 60 });
    expect401(() => verifyToken(config, otherAudience));
    const otherIssuer = jwt.sign({}, config.JWT_SECRET, { algorithm: 'HS256', subject: sub, issuer: 'someone', audience: TOKEN_AUDIENCE, expiresIn: 60 });
    expect401(() => verifyToken(config, otherIssuer));
  });

  it('rejects a token without an expiry', () => {
    const forever = jwt.sign({}, config.JWT_SECRET, { algorithm: 'HS256', subject: randomUUID(), issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE });
    expect401(() => verifyToken(config, forever));
  });

  it('rejects garbage', () => {
    expect401(() => verifyToken(config, 'not.a.jwt'));
  });
});
