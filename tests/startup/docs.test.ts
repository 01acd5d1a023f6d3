import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './processHelpers';

const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

describe('README', () => {
  it('opens with the two quick-start commands', () => {
    const firstBlock = readme.slice(readme.indexOf('```'), readme.indexOf('```', readme.indexOf('```') + 3));
    expect(readme.indexOf('```')).toBeLessThan(readme.indexOf('\n## '));
    expect(firstBlock).toMatch(/^npm start\b/m);
    expect(firstBlock).toMatch(/^npm test\b/m);
  });

  it('says why every package in package.json is there', () => {
    const table = readme.slice(readme.indexOf('## Dependencies and why'));
    const packages = [...Object.keys(manifest.dependencies), ...Object.keys(manifest.devDependencies)];
    expect(packages.filter((name) => !table.includes(`\`${name}\``))).toEqual([]);
  });

  it('names only npm scripts that exist', () => {
    const named = [...readme.matchAll(/npm run ([a-z:-]+)/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((s) => !(s in manifest.scripts))).toEqual([]);
  });
});

describe('scripts/bootstrap.js', () => {
  it('finds nothing to install, silently, when node_modules matches the lockfile', () => {
    // `npm test` ran the installing bootstrap just before jest; --check reports without installing, so the
    // test can never replace node_modules under a running suite.
    const result = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'bootstrap.js'), '--check'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('reports a dependency that package.json wants but the lockfile lacks', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pledgeflow-bootstrap-'));
    try {
      fs.mkdirSync(path.join(dir, 'scripts'));
      fs.mkdirSync(path.join(dir, 'node_modules'));
      fs.copyFileSync(path.join(repoRoot, 'scripts', 'bootstrap.js'), path.join(dir, 'scripts', 'bootstrap.js'));
      const wanted = { ...manifest, dependencies: { ...manifest.dependencies, 'left-pad': '^1.3.0' } };
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(wanted));
      fs.copyFileSync(path.join(repoRoot, 'package-lock.json'), path.join(dir, 'package-lock.json'));
      fs.copyFileSync(path.join(repoRoot, 'node_modules', '.package-lock.json'), path.join(dir, 'node_modules', '.package-lock.json'));
      const result = spawnSync(process.execPath, [path.join(dir, 'scripts', 'bootstrap.js'), '--check'], { cwd: dir, encoding: 'utf8' });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('left-pad@^1.3.0');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
