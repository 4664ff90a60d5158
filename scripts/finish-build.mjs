// After tsc: the bin must be executable (npx runs it through the shell), and the debug page's
// static assets, which tsc does not copy, go next to the compiled debug server.

import { chmodSync, cpSync } from 'node:fs';

chmodSync('dist/src/cli/main.js', 0o755);
cpSync('src/debug/assets', 'dist/src/debug/assets', { recursive: true });
