import pino, { type Logger } from 'pino';

/** Paths never written to logs: credentials, tokens, card data and signatures. */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["stripe-signature"]',
  'password',
  '*.password',
  'token',
  '*.token',
  'payment_method',
  '*.payment_method',
];

export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { service: 'pledgeflow', ...base }, redact: { paths: redactPaths, censor: '[redacted]' } });
}

export type { Logger };
