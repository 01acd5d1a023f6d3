import { refusals } from '../../src/domain/errors';
import { problemOf, problems } from '../../src/api/http/problem';

describe('domain refusals as problem+json', () => {
  it('maps each kind to its status, keeping code and detail', () => {
    expect(problemOf(refusals.notFound('pledge'))).toMatchObject({ status: 404, code: 'not_found', detail: 'No such pledge.' });
    expect(problemOf(refusals.conflict('reward_sold_out', 'taken'))).toMatchObject({ status: 409, code: 'reward_sold_out' });
    expect(problemOf(refusals.payment('payment_declined', 'Payment declined', 'no'))).toMatchObject({ status: 402, title: 'Payment declined' });
    expect(problemOf(refusals.unauthenticated()).headers).toEqual({ 'WWW-Authenticate': 'Bearer' });
  });

  it('answers every dependency outage (503) with Retry-After, a named one or the default', () => {
    expect(problemOf(refusals.unavailable('payment_unavailable', 'down')).headers['Retry-After']).toBe('5');
    expect(problemOf(refusals.unavailable('workflow_unavailable', 'down', 2)).headers['Retry-After']).toBe('2');
    expect(problemOf(refusals.unavailable('workflow_unavailable', 'down', 2)).toBody()).not.toHaveProperty('retry_after_seconds');
    expect(problems.unavailable('live_updates_unavailable', 'down').headers['Retry-After']).toBe('5');
  });

  it('names the wait of a rate limit in the header and the body', () => {
    const p = problemOf(refusals.rateLimited(7));
    expect(p.status).toBe(429);
    expect(p.headers['Retry-After']).toBe('7');
    expect(p.toBody()).toMatchObject({ retry_after_seconds: 7 });
  });
});
