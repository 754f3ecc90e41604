#!/usr/bin/env node
// The `gatehouse` command: runs the compiled CLI (npm run build, or npm install, which builds).
import('../dist/src/cli/main.js').then(
  ({ main }) => main(process.argv.slice(2)),
  (error) => {
    if (error && error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/src/cli/main.js')) {
      process.stderr.write('gatehouse: not built yet; run `npm run build` (or `npm install`) first.\n');
    } else {
      process.stderr.write(`gatehouse: ${error && error.message ? error.message : error}\n`);
    }
    process.exit(1);
  },
);
