#!/usr/bin/env node
// Installed entry point: runs the compiled agent (npm run build, or the prepare step of npm ci).
import '../dist/agent/main.js';
