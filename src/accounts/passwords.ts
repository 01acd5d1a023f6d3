import argon2 from 'argon2';

/**
 * Password hashing with argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): memory-hard,
 * so guessing leaked hashes on GPUs is expensive, yet cheap enough (~tens of ms) for a login endpoint.
 */
export const PASSWORD_HASH_OPTIONS = {
  type: argon2.argon2id,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, PASSWORD_HASH_OPTIONS);
}

/** False for a wrong password and for a stored hash argon2 cannot read (never throws on bad input). */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

/** True when a hash was made with weaker (older) parameters and should be replaced after a good login. */
export function needsRehash(hash: string): boolean {
  try {
    return argon2.needsRehash(hash, PASSWORD_HASH_OPTIONS);
  } catch {
    return true;
  }
}

let decoy: Promise<string> | undefined;
const decoyHash = () => (decoy ??= hashPassword('decoy password that no account has'));

/** Makes the decoy hash ahead of time, so the first login to an unknown address is not the slow one. */
export function prepareDecoy(): void {
  void decoyHash();
}

/**
 * Spends the same time as a real check, for logins to unknown addresses: otherwise the fast "no such
 * user" answer would tell an attacker which addresses have accounts. Always false.
 */
export async function verifyAgainstDecoy(password: string): Promise<false> {
  await verifyPassword(await decoyHash(), password);
  return false;
}
