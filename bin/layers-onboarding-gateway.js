#!/usr/bin/env node
'use strict';
// The CRM gateway as built into dist/ (`npm run build`; `npm pack` builds first), run as the main module.
require('node:module')._load(require.resolve('../dist/gateway/main.js'), null, true);
