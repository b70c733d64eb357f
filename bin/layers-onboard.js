#!/usr/bin/env node
'use strict';
// The CLI as built into dist/ (`npm run build`; `npm pack` builds first). Loaded as the main module,
// so it runs exactly as `node dist/client/cli/main.js` would, whatever shape that file takes.
require('node:module')._load(require.resolve('../dist/client/cli/main.js'), null, true);
