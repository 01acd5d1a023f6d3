/** A number typed in a form; NaN when left blank (sent as null, so the API marks the field instead of taking 0). */
export const typedNumber = (value: string): number => (value.trim() === '' ? NaN : Number(value));
