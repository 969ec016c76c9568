#!/usr/bin/env -S node --max-semi-space-size=4
// Installed entry point: runs the compiled agent (npm run build, or the prepare step of npm ci).
// The flag: V8's young generation grows to 128 MB by default, and a `check` of a big node's dump
// (short-lived objects by the million) then peaks ~100 MB higher for no gain in time; 4 MB
// semi-spaces keep the peak down at the same speed (README, "Performance"). The agent's scan
// worker is given its own flags (agent/scan-worker-client.ts).
import '../dist/agent/main.js';
