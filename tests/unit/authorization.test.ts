import { randomUUID } from 'node:crypto';
import { effectiveRole, requireManager, requirePrincipal, requireRole, requireVisibleTo } from '../../src/accounts/authorization';
import { asProblem } from '../../src/api/http/problem';
import type { Principal, Role } from '../../src/domain/roles';

const principal = (role: Role): Principal => ({ id: randomUUID(), email: `${role}@example.test`, role });

function statusOf(fn: () => unknown): number | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    const problem = asProblem(err);
    if (problem) return problem.status;
    throw err;
  }
}

describe('effectiveRole', () => {
  const facts = (email: string, over: { emailVerified?: boolean; operatorGranted?: boolean } = {}) => ({
    email,
    baseRole: 'merchant' as const,
    emailVerified: true,
    operatorGranted: false,
    ...over,
  });
  it('makes VERIFIED listed addresses operators, case-insensitively', () => {
    expect(effectiveRole(facts('Boss@Example.test'), ['boss@example.test'])).toBe('operator');
  });
  it('never makes an unverified listed address an operator', () => {
    expect(effectiveRole(facts('boss@example.test', { emailVerified: false }), ['boss@example.test'])).toBe('merchant');
  });
  it('makes accounts granted by the operator command operators, listed or not, verified or not', () => {
    expect(effectiveRole(facts('someone@example.test', { emailVerified: false, operatorGranted: true }), [])).toBe('operator');
  });
  it('falls back to the registered role when the address is not listed', () => {
    expect(effectiveRole(facts('someone@example.test'), ['boss@example.test'])).toBe('merchant');
  });
});

describe('authorization helpers', () => {
  it('requirePrincipal: 401 without a caller', () => {
    expect(statusOf(() => requirePrincipal(undefined))).toBe(401);
    expect(statusOf(() => requirePrincipal(principal('backer')))).toBe('ok');
  });

  it('requireRole: 403 for other roles, operators pass every gate', () => {
    expect(statusOf(() => requireRole(undefined, ['merchant']))).toBe(401);
    expect(statusOf(() => requireRole(principal('backer'), ['merchant']))).toBe(403);
    expect(statusOf(() => requireRole(principal('merchant'), ['merchant']))).toBe('ok');
    expect(statusOf(() => requireRole(principal('operator'), ['merchant']))).toBe('ok');
  });

  it('requireManager: owner or operator, 403 for anyone else', () => {
    const owner = principal('creator');
    expect(statusOf(() => requireManager(owner, owner.id))).toBe('ok');
    expect(statusOf(() => requireManager(principal('operator'), owner.id))).toBe('ok');
    expect(statusOf(() => requireManager(principal('creator'), owner.id))).toBe(403);
  });

  it('requireVisibleTo: any listed owner or an operator; others get 404 as if it did not exist', () => {
    const customer = principal('backer');
    const merchant = principal('merchant');
    expect(statusOf(() => requireVisibleTo(customer, [customer.id, merchant.id], 'order'))).toBe('ok');
    expect(statusOf(() => requireVisibleTo(merchant, [customer.id, merchant.id], 'order'))).toBe('ok');
    expect(statusOf(() => requireVisibleTo(principal('operator'), [], 'order'))).toBe('ok');
    expect(statusOf(() => requireVisibleTo(principal('merchant'), [customer.id, merchant.id], 'order'))).toBe(404);
    expect(statusOf(() => requireVisibleTo(undefined, customer.id))).toBe(401);
  });
});
