#!/bin/sh
":" //; exec node --max-semi-space-size=4 "$0" "$@"
// Installed entry point: runs the compiled agent (npm run build, or the prepare step of npm ci).
// The line above is read by sh when this file is executed (npx, npm's bin link) and is a no-op
// string for Node: it starts Node with 4 MB semi-spaces, as `env -S` would, but with any POSIX sh
// (BusyBox's env has no -S). V8's young generation otherwise grows to 128 MB, and a `check` of a
// big node's dump (short-lived objects by the million) peaks ~100 MB higher for no gain in time
// (README, "Performance"). Run as `node bin/dataplane-sentinel.js`, Node's own flags apply; the
// agent's scan worker is given its own (agent/scan-worker-client.ts).
import '../dist/agent/main.js';
