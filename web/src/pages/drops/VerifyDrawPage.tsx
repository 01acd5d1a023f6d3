import { Link, useParams } from 'react-router-dom';
import { useQuery } from '@tanstack/react-query';
import { useUser } from '../../api/useSession';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { dateTime } from '../../lib/format';
import { useTitle } from '../../lib/useTitle';
import { verifyDraw, type DrawVerification } from './drawCheck';
import { useDraw, useDrop, useMyEntry, type Drop, type DropDraw } from './dropsApi';
import { TableScroll } from '../../components/TableScroll';

/** How many ranks the table shows: the winners and a few of the waitlist are what people look for. */
const SHOWN_RANKS = 50;

/** "Verify this draw": the published draw recomputed here, in the browser, with Web Crypto. */
export function VerifyDrawPage() {
  const { id = '' } = useParams();
  useTitle('Verify the draw');
  const drop = useDrop(id);
  const draw = useDraw(id);
  const user = useUser();
  const entry = useMyEntry(id, user !== undefined);
  const myEntryId = entry.data?.id;

  let body;
  if (drop.isPending || draw.isPending) body = <Loading what="the draw" />;
  else if (drop.isError) body = <ErrorBox error={drop.error} retry={() => void drop.refetch()} />;
  else if (draw.isError) body = <ErrorBox error={draw.error} retry={() => void draw.refetch()} />;
  else body = <Verification drop={drop.data} draw={draw.data} myEntryId={myEntryId} />;
  return (
    <article>
      <h1>Verify the draw</h1>
      <p>
        <Link to={`/drops/${id}`}>Back to the drop</Link>
      </p>
      <p>
        Your browser recomputes the draw from the revealed seed and the entry ids with Web Crypto (SHA-256 and HMAC-SHA256), without trusting the server&apos;s ranking, and compares it with what was
        published. The same check runs offline with <code>npm run verify-draw -- {id}</code>.
      </p>
      {body}
    </article>
  );
}

function Verification({ drop, draw, myEntryId }: { drop: Drop; draw: DropDraw; myEntryId: string | undefined }) {
  const result = useQuery({
    queryKey: ['drop', drop.id, 'verification', draw.seed, myEntryId ?? ''],
    queryFn: () => verifyDraw(draw, { seed_commitment: drop.seed_commitment, entries_hash: drop.entries_hash, quantity: drop.quantity }, myEntryId),
    staleTime: Infinity,
  });
  if (result.isPending) return <Loading what="the recomputation" />;
  if (result.isError) return <ErrorBox error={result.error} />;
  return <VerificationView drop={drop} draw={draw} result={result.data} myEntryId={myEntryId} />;
}

function VerificationView({ drop, draw, result, myEntryId }: { drop: Drop; draw: DropDraw; result: DrawVerification; myEntryId: string | undefined }) {
  const winners = new Set(draw.winners.map((w) => w.toLowerCase()));
  return (
    <>
      <p role="status" className={result.ok ? 'verdict match' : 'verdict mismatch'}>
        {result.ok ? 'Match: the published draw is exactly what the seed and the entries give.' : 'Mismatch: the published draw does not match the recomputation.'}
      </p>
      <dl className="facts">
        <dt>Drawn</dt>
        <dd>{dateTime(draw.drawn_at)}</dd>
        <dt>Entries</dt>
        <dd>{draw.entries_count}</dd>
        <dt>Units</dt>
        <dd>{drop.quantity}</dd>
        <dt>Seed</dt>
        <dd>
          <code className="hash">{draw.seed}</code>
        </dd>
      </dl>
      <h2>Checks</h2>
      <ul className="checks">
        {result.checks.map((c) => (
          <li key={c.name} className={c.ok ? 'match' : 'mismatch'}>
            <strong>
              {c.ok ? '✓' : '✗'} {c.name}: {c.ok ? 'matches' : 'does not match'}
            </strong>{' '}
            <span className="meta">({c.detail})</span>
          </li>
        ))}
      </ul>
      <h2>Recomputed ranking</h2>
      {result.ranking.length === 0 ? (
        <Empty>Nobody entered this drop.</Empty>
      ) : (
        <TableScroll label="Ranking table">
          <table>
            <caption className="meta">
              {result.ranking.length > SHOWN_RANKS ? `The first ${SHOWN_RANKS} of ${result.ranking.length} entries` : `All ${result.ranking.length} entries`}, lowest score first
            </caption>
            <thead>
              <tr>
                <th scope="col">Rank</th>
                <th scope="col">Entry</th>
                <th scope="col">Score (HMAC-SHA256)</th>
                <th scope="col">Result</th>
              </tr>
            </thead>
            <tbody>
              {result.ranking.slice(0, SHOWN_RANKS).map((e, i) => (
                <tr key={e.id} className={e.id === myEntryId?.toLowerCase() ? 'mine' : undefined}>
                  <td>{i + 1}</td>
                  <td>
                    <code>{e.id}</code>
                    {e.id === myEntryId?.toLowerCase() && <strong> (you)</strong>}
                  </td>
                  <td>
                    <code>{e.score.slice(0, 16)}…</code>
                  </td>
                  <td>{winners.has(e.id) ? 'Winner' : 'Waitlist'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
      <details>
        <summary>Algorithm as published</summary>
        <p>{draw.algorithm}</p>
      </details>
    </>
  );
}
