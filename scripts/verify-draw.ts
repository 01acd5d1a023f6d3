/**
 * Verifies a lottery drop's published draw:
 *   npm run verify-draw -- <drop id | saved draw JSON file> [--api <url>]
 *     [--commitment <hex>] [--entries-hash <hex>] [--quantity <n>] [--entry <your entry id>]...
 *
 * With a drop id it fetches GET /v1/drops/<id>/draw from the API (--api, else DROPS_API_URL, else
 * http://localhost:$PORT); with a file it reads what was saved from that endpoint. From the seed and the entry
 * ids alone it recomputes the seed commitment, the entries hash, the ranking and the winners, prints each check,
 * and exits 0 when everything matches, 1 otherwise (or when the draw cannot be read).
 *
 * The post-draw response alone only proves it is consistent with itself: pass the seed_commitment recorded when
 * the drop was created (--commitment), the entries_hash recorded when registration closed (--entries-hash), the
 * announced quantity and your own entry ids, and the checks say which were against those independent values.
 */
import { existsSync, readFileSync } from 'node:fs';
import { verifyDraw, type KnownDrawValues, type PublishedDraw } from '../src/domain/draw';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function usage(message: string): never {
  console.error(
    `${message}\nusage: npm run verify-draw -- <drop id | draw JSON file> [--api <base url>] [--commitment <hex>] [--entries-hash <hex>] [--quantity <n>] [--entry <entry id>]...`,
  );
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

const HEX64 = /^[0-9a-f]{64}$/i;

/** Removes every `--name <value>` from args; the values in order. */
function takeFlag(args: string[], name: string): string[] {
  const values: string[] = [];
  for (let at = args.indexOf(name); at >= 0; at = args.indexOf(name)) {
    const [, value] = args.splice(at, 2);
    if (value === undefined) usage(`${name} needs a value.`);
    values.push(value);
  }
  return values;
}

function knownValues(args: string[]): KnownDrawValues {
  const [commitment] = takeFlag(args, '--commitment');
  const [entriesHash] = takeFlag(args, '--entries-hash');
  const [quantity] = takeFlag(args, '--quantity');
  const entries = takeFlag(args, '--entry');
  if (commitment !== undefined && !HEX64.test(commitment)) usage('--commitment must be 64 hex characters.');
  if (entriesHash !== undefined && !HEX64.test(entriesHash)) usage('--entries-hash must be 64 hex characters.');
  if (quantity !== undefined && !/^[1-9][0-9]*$/.test(quantity)) usage('--quantity must be a positive integer.');
  if (entries.some((id) => !UUID.test(id))) usage('--entry must be an entry id (UUID).');
  return {
    ...(commitment !== undefined ? { commitment } : {}),
    ...(entriesHash !== undefined ? { entriesHash } : {}),
    ...(quantity !== undefined ? { quantity: Number(quantity) } : {}),
    ...(entries.length ? { entries } : {}),
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const [api = process.env.DROPS_API_URL ?? `http://localhost:${process.env.PORT ?? 3000}`] = takeFlag(args, '--api');
  const known = knownValues(args);
  const [target] = args;
  if (!target) usage('Name a drop id or a saved draw file.');
  const draw = asDraw(await load(target, api));
  const result = verifyDraw(draw, known);
  console.log(`draw of ${draw.ranking.length} entries for ${draw.quantity} unit(s)`);
  for (const c of result.checks) {
    console.log(`${c.ok ? 'ok      ' : 'MISMATCH'} ${c.name} [${c.independent ? 'independent' : 'same response'}]${c.detail ? ` — ${c.detail}` : ''}`);
  }
  const independent = result.checks.filter((c) => c.independent).map((c) => c.name);
  console.log(
    independent.length
      ? `checked against independently known values: ${independent.join(', ')}`
      : 'WARNING: checked only against the response itself; pass --commitment (recorded at creation) and --entries-hash (recorded at close)',
  );
  console.log(result.ok ? 'VERIFIED: the published draw matches the recomputation' : 'NOT VERIFIED: the published draw does not match');
  process.exit(result.ok ? 0 : 1);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
