import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * The web app's typed client (web/src/api/schema.d.ts) is generated from the API's OpenAPI document; this fails
 * when a route or schema changed without the file being regenerated (`npm run web:schema`), so the browser
 * app cannot silently drift from the API it calls.
 */
const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');
const tsx = path.join(root, 'node_modules/.bin/tsx');
const schemaFile = path.join(root, 'web/src/api/schema.d.ts');

describe('web API schema', () => {
  it('the checked-in schema.d.ts is what the API describes now', async () => {
    const { stdout } = await run(tsx, ['scripts/webApiSchema.ts', '--check'], { cwd: root });
    expect(stdout).toMatch(/matches the API/);
  });

  it('the check fails on a stale file, naming the fix', async () => {
    // Run the check against a copy with one route's summary changed, by pointing the script at it.
    const stale = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'web-schema-')), 'schema.d.ts');
    fs.writeFileSync(stale, fs.readFileSync(schemaFile, 'utf8').replace('/v1/campaigns', '/v1/campaignz'));
    const failed = await run(tsx, ['scripts/webApiSchema.ts', '--check'], { cwd: root, env: { ...process.env, WEB_SCHEMA_FILE: stale } }).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(/is stale.*npm run web:schema/);
  });
});
