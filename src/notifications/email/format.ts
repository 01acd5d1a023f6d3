/** How amounts and instants read in an email: exact money from integer minor units, times in UTC. */

const digitsCache = new Map<string, number>();

/** Minor-unit digits of an ISO 4217 currency (USD 2, JPY 0, KWD 3), as Intl knows them. */
function minorDigits(currency: string): number {
  let d = digitsCache.get(currency);
  if (d === undefined) {
    d = new Intl.NumberFormat('en-US', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    digitsCache.set(currency, d);
  }
  return d;
}

/** `formatMoney(123456, 'usd')` → "$1,234.56"; computed on integers and formatted from an exact decimal string. */
export function formatMoney(minorUnits: number, currency: string): string {
  const code = currency.trim().toUpperCase();
  let digits: number;
  try {
    digits = minorDigits(code);
  } catch {
    return `${minorUnits} ${code} (minor units)`;
  }
  const abs = BigInt(Math.abs(Math.trunc(minorUnits)));
  const scale = 10n ** BigInt(digits);
  const decimal = `${minorUnits < 0 ? '-' : ''}${abs / scale}${digits ? '.' + String(abs % scale).padStart(digits, '0') : ''}`;
  // A numeric string keeps every digit exactly (Intl.NumberFormat v3); the cast is for older lib typings.
  return new Intl.NumberFormat('en-US', { style: 'currency', currency: code }).format(decimal as unknown as number);
}

const WHEN = new Intl.DateTimeFormat('en-GB', { dateStyle: 'full', timeStyle: 'short', timeZone: 'UTC' });

/** "Thursday 3 December 2026 at 14:00 UTC"; undefined for anything that is not a date. */
export function formatInstant(value: unknown): string | undefined {
  if (typeof value !== 'string' && !(value instanceof Date)) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : `${WHEN.format(d)} UTC`;
}

/** "Thursday 3 December 2026 at 15:00 (Europe/Berlin)": a booking reads in the provider's zone, where it happens. */
export function formatLocalInstant(value: unknown, timeZone: unknown): string | undefined {
  if (typeof timeZone !== 'string' || timeZone.length === 0) return formatInstant(value);
  if (typeof value !== 'string' && !(value instanceof Date)) return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return undefined;
  try {
    return `${new Intl.DateTimeFormat('en-GB', { dateStyle: 'full', timeStyle: 'short', timeZone }).format(d)} (${timeZone})`;
  } catch {
    return formatInstant(value);
  }
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
