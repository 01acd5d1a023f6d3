/**
 * Verifies a lottery drop's published draw: `npm run verify-draw -- <drop id | saved draw JSON file> [--api <url>]`.
 *
 * With a drop id it fetches GET /v1/drops/<id>/draw from the API (--api, else DROPS_API_URL, else
 * http://localhost:$PORT); with a file it reads what was saved from that endpoint. From the seed and the entry
 * ids alone it recomputes the seed commitment, the entries hash, the ranking and the winners, prints each check,
 * and exits 0 when everything matches what was published, 1 otherwise (or when the draw cannot be read).
 */
import { existsSync, readFileSync } from 'node:fs';
import { verifyDraw, type PublishedDraw } from '../src/domain/draw';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function usage(message: string): never {
  console.error(`${message}\nusage: npm run verify-draw -- <drop id | draw JSON file> [--api <base url>]`);
  process.exit(1);
}

async function load(target: string, api: string): Promise<unknown> {
  if (existsSync(target)) return JSON.parse(readFileSync(target, 'utf8'));
  if (!UUID.test(target)) usage(`'${target}' is neither a file nor a drop id.`);
  const url = `${api.replace(/\/+$/, '')}/v1/drops/${target}/draw`;
  const res = await fetch(url);
  const body: unknown = await res.json().catch(() => null);
  if (!res.ok) usage(`GET ${url} answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

function asDraw(raw: unknown): PublishedDraw {
  const d = raw as Partial<PublishedDraw> | null;
  const strings = (a: unknown) => Array.isArray(a) && a.every((x) => typeof x === 'string');
  if (!d || typeof d.seed !== 'string' || typeof d.seed_commitment !== 'string' || typeof d.entries_hash !== 'string' || !Number.isInteger(d.quantity) || !strings(d.ranking) || !strings(d.winners)) {
    usage('The draw must have seed, seed_commitment, entries_hash (strings), quantity (integer), ranking and winners (arrays of entry ids).');
  }
  return d as PublishedDraw;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const apiAt = args.indexOf('--api');
  const api = apiAt >= 0 ? args.splice(apiAt, 2)[1] : (process.env.DROPS_API_URL ?? `http://localhost:${process.env.PORT ?? 3000}`);
  const [target] = args;
  if (!target || !api) usage('Name a drop id or a saved draw file.');
  const draw = asDraw(await load(target, api));
  const result = verifyDraw(draw);
  console.log(`draw of ${draw.ranking.length} entries for ${draw.quantity} unit(s)`);
  for (const c of result.checks) console.log(`${c.ok ? 'ok      ' : 'MISMATCH'} ${c.name}${c.detail ? ` — ${c.detail}` : ''}`);
  console.log(result.ok ? 'VERIFIED: the published draw matches the recomputation' : 'NOT VERIFIED: the published draw does not match');
  process.exit(result.ok ? 0 : 1);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
