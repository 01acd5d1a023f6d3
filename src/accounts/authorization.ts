import { canManage, hasRole, type Principal, type Role } from '../domain/roles';
import { refusals } from '../domain/errors';
import type { BaseRole } from './users';

/**
 * The checks route handlers make after `Api.route({auth})` has authenticated the caller. Role gates belong in
 * the route's `auth` option; these cover what only the handler knows: who owns the resource it loaded.
 */

/** What decides whether an account is an operator. */
export interface OperatorFacts {
  email: string;
  baseRole: BaseRole;
  emailVerified: boolean;
  /** Granted by `npm run operator -- add <email>`. */
  operatorGranted: boolean;
}

/**
 * Operators are made by the operator command, or by OPERATOR_EMAILS for an address its owner has VERIFIED:
 * registering a listed address proves nothing. The list is consulted every time, so removing an address
 * takes the role away again (back to the role the person registered with).
 */
export function effectiveRole(facts: OperatorFacts, operatorEmails: readonly string[]): Role {
  if (facts.operatorGranted) return 'operator';
  if (facts.emailVerified && operatorEmails.includes(facts.email.toLowerCase())) return 'operator';
  return facts.baseRole;
}

/** For `auth: 'optional'` routes that need a caller on some paths: 401 when there is none. */
export function requirePrincipal(principal: Principal | undefined): Principal {
  if (!principal) throw refusals.unauthenticated();
  return principal;
}

/** 401 without a caller, 403 when the caller has none of `roles` (operators pass every role gate). */
export function requireRole(principal: Principal | undefined, roles: readonly Role[]): Principal {
  const p = requirePrincipal(principal);
  if (!hasRole(p, roles)) throw refusals.forbidden(`This operation requires one of the roles: ${roles.join(', ')}.`);
  return p;
}

/**
 * Owner-or-operator actions on a resource the caller may already see (a public campaign): 403 for others.
 * Use `requireVisibleTo` instead when merely confirming the resource exists would leak another tenant's data.
 */
export function requireManager(principal: Principal | undefined, ownerId: string): Principal {
  const p = requirePrincipal(principal);
  if (!canManage(p, ownerId)) throw refusals.forbidden('Only the owner or an operator may do this.');
  return p;
}

/**
 * Private, tenant-scoped resources (another store's order, another backer's pledge): anyone but the owner
 * or an operator gets the same 404 as for an id that does not exist (API.md: another tenant's id is 404).
 */
export function requireVisibleTo(principal: Principal | undefined, ownerIds: string | readonly string[], what = 'resource'): Principal {
  const p = requirePrincipal(principal);
  const owners = typeof ownerIds === 'string' ? [ownerIds] : ownerIds;
  if (p.role !== 'operator' && !owners.includes(p.id)) throw refusals.notFound(what);
  return p;
}
