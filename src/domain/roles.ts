/** Account roles. Operators are never self-registered: only OPERATOR_EMAILS become operators. */
export const ROLES = ['backer', 'creator', 'merchant', 'provider', 'operator'] as const;
export type Role = (typeof ROLES)[number];
export const SELF_SERVICE_ROLES = ['backer', 'creator', 'merchant', 'provider'] as const satisfies readonly Role[];

/** The caller of a request, as proven by its token. */
export interface Principal {
  id: string;
  email: string;
  role: Role;
}

/** Operators may do everything a role-gated route allows; other roles only what they are listed for. */
export function hasRole(principal: Principal, allowed: readonly Role[]): boolean {
  return principal.role === 'operator' || allowed.includes(principal.role);
}

/** Owner-or-operator: the rule for creator-, merchant- and provider-owned resources. */
export function canManage(principal: Principal, ownerId: string): boolean {
  return principal.role === 'operator' || principal.id === ownerId;
}
