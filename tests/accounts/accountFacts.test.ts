import { randomUUID } from 'node:crypto';
import { accountFacts, forgetAccountFacts } from '../../src/accounts/accountFacts';
import type { AppDeps } from '../../src/api/deps';
import { closeDeps, createTestDeps, testConfig } from '../helpers/context';
import { makeUser, makeUsers } from '../helpers/fixtures';

/** The authenticator's account facts: cached per account, and misses arriving together read in one statement. */
let deps: AppDeps;
beforeAll(() => {
  deps = createTestDeps(testConfig({ AUTH_CACHE_TTL: '1m' }));
});
afterAll(() => closeDeps(deps));

async function usersStatementsDuring<T>(fn: () => Promise<T>): Promise<{ result: T; statements: number }> {
  let statements = 0;
  const onQuery = (q: { sql: string }) => {
    if (/FROM users u/.test(q.sql)) statements++;
  };
  deps.db.on('query', onQuery);
  try {
    return { result: await fn(), statements };
  } finally {
    deps.db.off('query', onQuery);
  }
}

describe('accountFacts', () => {
  it('answers 40 first requests of distinct accounts, each with its own facts, in fewer reads than accounts', async () => {
    const ids = await makeUsers(deps, 40);
    const operator = await makeUser(deps, { role: 'creator' });
    await deps.db('users').where({ id: operator.id }).update({ operator_granted_at: deps.db.fn.now() });
    const unknown = randomUUID();
    const asked = [...ids, operator.id, unknown, ids[0]!];
    const { result, statements } = await usersStatementsDuring(() => Promise.all(asked.map((id) => accountFacts(deps.db, deps.config, id))));
    expect(statements).toBeGreaterThan(0);
    expect(statements).toBeLessThan(asked.length / 2);
    result.slice(0, 40).forEach((facts, i) => expect(facts).toMatchObject({ id: ids[i], baseRole: 'backer', operatorGranted: false }));
    expect(result[40]).toMatchObject({ id: operator.id, baseRole: 'creator', operatorGranted: true });
    expect(result[41]).toBeUndefined();
    expect(result[42]).toBe(result[0]);
    // Cached now: no read at all; forgotten: read again, and the change is seen.
    expect((await usersStatementsDuring(() => accountFacts(deps.db, deps.config, ids[1]!))).statements).toBe(0);
    await deps.db('users').where({ id: ids[1] }).update({ tokens_valid_after: new Date('2026-01-01T00:00:00Z') });
    forgetAccountFacts(ids[1]!);
    const again = await usersStatementsDuring(() => accountFacts(deps.db, deps.config, ids[1]!));
    expect(again.statements).toBe(1);
    expect(again.result?.tokensValidAfterMs).toBe(Date.parse('2026-01-01T00:00:00Z'));
  });
});
