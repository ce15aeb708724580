#!/usr/bin/env node
// Entry point for `npx nereid-analyzer`: the compiled CLI lives in dist/ (built by `npm run build`).
import '../dist/src/cli/main.js';
