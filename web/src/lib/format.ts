/** Money, dates and durations in the reader's locale (Intl), from the API's minor units and UTC times. */
const locale = () => navigator.language || 'en-US';

/** Minor units per major unit for a currency (2 for USD, 0 for JPY), as Intl knows it. */
export function minorDigits(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

export function money(cents: number, currency: string): string {
  return new Intl.NumberFormat(locale(), { style: 'currency', currency }).format(cents / 10 ** minorDigits(currency));
}

/** A typed amount ("25", "25.50") in minor units; NaN when it is not a number. */
export function toMinor(amount: string, currency: string): number {
  const value = Number(amount.replace(',', '.'));
  return Number.isFinite(value) && amount.trim() !== '' ? Math.round(value * 10 ** minorDigits(currency)) : NaN;
}

export function dateTime(iso: string): string {
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

/** "3 days left", "5 hours left", "ended": the largest whole unit. */
export function timeLeft(seconds: number): string {
  if (seconds <= 0) return 'ended';
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ['day', 86_400],
    ['hour', 3_600],
    ['minute', 60],
  ];
  const fmt = new Intl.NumberFormat(locale());
  for (const [unit, size] of units) {
    if (seconds >= size) {
      const n = Math.floor(seconds / size);
      return `${fmt.format(n)} ${unit}${n === 1 ? '' : 's'} left`;
    }
  }
  return 'less than a minute left';
}

export const words = (snake: string): string => snake.replace(/_/g, ' ');
