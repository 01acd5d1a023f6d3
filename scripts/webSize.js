#!/usr/bin/env node
'use strict';
/**
 * The web app's initial JavaScript: every script index.html loads (and the chunks they preload), gzipped.
 * Run after `vite build` (npm run web:build does); fails when it passes the budget, so the app stays small.
 */
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

const BUDGET_BYTES = 250 * 1024;
const dist = path.resolve(__dirname, '../web/dist');
const html = fs.readFileSync(path.join(dist, 'index.html'), 'utf8');
const files = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
const gzip = files.reduce((sum, f) => sum + zlib.gzipSync(fs.readFileSync(path.join(dist, f)), { level: 9 }).length, 0);
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`web: initial JS ${kb(gzip)} gzip in ${files.length} file(s) (budget ${kb(BUDGET_BYTES)})`);
if (gzip > BUDGET_BYTES) {
  console.error('web: the initial JS is over budget');
  process.exit(1);
}
