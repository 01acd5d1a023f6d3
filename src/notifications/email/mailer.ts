import nodemailer from 'nodemailer';

/** The one thing the email lane needs from SMTP: hand a message over, resolve when the server accepted it. */
export interface OutgoingEmail {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Stable per email, so a receiver can recognise a resend (see emailLane.ts). */
  messageId: string;
  headers: Record<string, string>;
  /** Files sent with it (an invoice's PDF with the notification that issued it). */
  attachments?: Array<{ filename: string; content: Buffer; contentType: string }>;
}

export interface Mailer {
  send(message: OutgoingEmail): Promise<void>;
  close(): void;
}

/**
 * Nodemailer over SMTP_URL, pooled (a few reused connections instead of a handshake per message), with
 * timeouts so a server that accepts the connection and then hangs fails the attempt instead of the lane.
 */
export function createSmtpMailer(smtpUrl: string): Mailer {
  const transport = nodemailer.createTransport({
    url: smtpUrl,
    pool: true,
    maxConnections: 4,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    async send(m) {
      await transport.sendMail({ from: m.from, to: m.to, subject: m.subject, text: m.text, html: m.html, messageId: m.messageId, headers: m.headers, attachments: m.attachments });
    },
    close: () => transport.close(),
  };
}
