import { z } from 'zod';

/**
 * Text fields stored in Postgres: text and jsonb cannot hold NUL, so refusing it at validation keeps such
 * input a 400 instead of a database error (a 500).
 */
export const noNul = (s: string): boolean => !s.includes('\u0000');
export const NUL_MESSAGE = 'must not contain NUL characters';

/** Trimmed text of min..max characters, without NUL. */
export const text = (min: number, max: number) => z.string().trim().min(min).max(max).refine(noNul, NUL_MESSAGE);

/** Untrimmed long text (descriptions) of at most max characters, without NUL. */
export const longText = (max: number) => z.string().max(max).refine(noNul, NUL_MESSAGE);
