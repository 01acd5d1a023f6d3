import { noteEndpoint, outageOf } from '../../src/infra/outages';
import { asProblem } from '../../src/api/http/problem';

/** What an outage of each dependency looks like through our clients (shapes seen from knex/pg, ioredis, @temporalio/client). */
describe('outageOf', () => {
  const error = (props: Record<string, unknown>, message = 'x') => Object.assign(new Error(message), props);

  it('recognises a Postgres that is gone, going, full or unreachable', () => {
    expect(outageOf(error({ code: '57P01' }, 'terminating connection due to administrator command'))).toBe('postgres');
    expect(outageOf(error({ code: '08006' }))).toBe('postgres');
    expect(outageOf(error({ code: '53300' }, 'sorry, too many clients already'))).toBe('postgres');
    expect(outageOf(new Error('select 1 - Connection terminated unexpectedly'))).toBe('postgres');
    expect(outageOf(error({ name: 'KnexTimeoutError' }, 'Knex: Timeout acquiring a connection. The pool is probably full.'))).toBe('postgres');
    noteEndpoint('postgres', 'postgres://postgres@127.0.0.1:45432/x', 5432);
    expect(outageOf(error({ code: 'ECONNREFUSED', port: 45432 }, 'connect ECONNREFUSED 127.0.0.1:45432'))).toBe('postgres');
  });

  it('recognises Redis and Temporal outages, also as the cause of another error', () => {
    expect(outageOf(error({ name: 'MaxRetriesPerRequestError' }, 'Reached the max retries per request limit'))).toBe('redis');
    expect(outageOf(new Error('Connection is closed.'))).toBe('redis');
    expect(outageOf(error({ name: 'TransportError' }, 'Failed to connect before the deadline'))).toBe('temporal');
    expect(outageOf(error({ cause: error({ code: 14 }, '14 UNAVAILABLE: No connection established') }, 'Failed to start workflow'))).toBe('temporal');
  });

  it('leaves everything else alone: a constraint violation, a bug, a socket error to someone else', () => {
    expect(outageOf(error({ code: '23505' }, 'duplicate key value violates unique constraint'))).toBeUndefined();
    expect(outageOf(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBeUndefined();
    expect(outageOf(error({ code: 'ECONNREFUSED', port: 1 }, 'connect ECONNREFUSED 127.0.0.1:1'))).toBeUndefined();
    expect(outageOf(undefined)).toBeUndefined();
  });

  it('becomes 503 dependency_unavailable naming the dependency, with Retry-After', () => {
    const problem = asProblem(error({ code: '57P03' }, 'the database system is starting up'))!;
    expect(problem.status).toBe(503);
    expect(problem.headers['Retry-After']).toMatch(/^\d+$/);
    expect(problem.toBody()).toMatchObject({ code: 'dependency_unavailable', dependency: 'postgres' });
    expect(asProblem(new Error('a bug'))).toBeUndefined();
  });
});
