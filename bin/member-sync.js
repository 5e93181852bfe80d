#!/usr/bin/env node
// The CLI entry point: the compiled code lives in dist/ (built by `npm ci` through
// the prepare script, or by `npm run build`).
import { main } from '../dist/cli/main.js';

main(process.argv).then(
  // exit explicitly: libraries' exit hooks must not change the code
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`member-sync: ${err && err.message ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
