import { readTestEnvironment } from './testEnv';

/**
 * What a Mailpit received, read through its HTTP API (https://mailpit.axllent.org/docs/api-v1/):
 * `/api/v1/search` lists messages (newest first), `/api/v1/message/{ID}` has the text, HTML and headers.
 * Test files share the run's Mailpit, so they look for their own unique recipient addresses.
 */
export interface MailSummary {
  ID: string;
  MessageID: string;
  Subject: string;
  To: { Name: string; Address: string }[];
}

export interface MailMessage extends MailSummary {
  From: { Name: string; Address: string };
  Text: string;
  HTML: string;
}

export function mailpitClient(baseUrl = readTestEnvironment().mailpitUrl) {
  async function get<T>(path: string): Promise<T> {
    const res = await fetch(`${baseUrl}${path}`);
    if (!res.ok) throw new Error(`mailpit ${path}: HTTP ${res.status}`);
    return (await res.json()) as T;
  }
  return {
    /** Every message to `address`, oldest first. */
    async to(address: string): Promise<MailSummary[]> {
      const { messages } = await get<{ messages: MailSummary[] }>(`/api/v1/search?limit=1000&query=${encodeURIComponent(`to:"${address}"`)}`);
      return messages.filter((m) => m.To.some((t) => t.Address.toLowerCase() === address.toLowerCase())).reverse();
    },
    message: (id: string) => get<MailMessage>(`/api/v1/message/${id}`),
    headers: (id: string) => get<Record<string, string[]>>(`/api/v1/message/${id}/headers`),
  };
}
