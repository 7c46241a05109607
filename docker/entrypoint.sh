#!/usr/bin/env bash
# wafleet container entry point (run by tini, PID 1). Commands:
#   start          a node with the roles in SERVICES (default)
#   repl [cmd...]  the operators' console; with a wa-* command, runs it and exits
#   drain          hands this node's workspaces to the others (the session pods' preStop)
#   sim            the simulated WhatsApp network (tests, demos)
#   anything else  is run as given (e.g. bash)
set -euo pipefail

# WAFLEET_HOME: where the image keeps dist/ (the tests point it at a checkout)
app="${WAFLEET_HOME:-/app}/dist/bin"
cmd="${1:-start}"
[ "$#" -gt 0 ] && shift

has_role() {
  # SERVICES empty = every role (embedded mode)
  [ -z "${SERVICES:-}" ] && return 0
  case ",${SERVICES// /}," in *",$1,"*) return 0 ;; *) return 1 ;; esac
}

case "$cmd" in
  start)
    if has_role sessions; then
      dir="${SESSIONS_DIR:-${DATA_DIR:-/var/lib/wafleet}/sessions}"
      mkdir -p "$dir"
      if [ ! -w "$dir" ]; then
        echo "wafleet: SESSIONS_DIR $dir is not writable by uid $(id -u); mount the shared volume with group $(id -g) write access (fsGroup)" >&2
        exit 78
      fi
    fi
    # exec: tini signals node itself, and node's SIGTERM handler drains before it exits.
    # node-flags.js prints the options this Node needs (--experimental-async-context-frame on
    # Node 22-23, none from 24, which refuses it): see lib/node-flags.ts
    # shellcheck disable=SC2046
    exec node $(node "$app/node-flags.js") "$app/wafleet.js" "$@"
    ;;
  repl)
    exec node "$app/repl.js" "$@"
    ;;
  drain)
    if [ -z "${NODE_ID:-}" ]; then
      echo "wafleet drain: NODE_ID is not set, so there is no node to drain" >&2
      exit 78
    fi
    # a separate, role-less console node (its own id: repl-<NODE_ID>-<pid>) asks the coordinator
    # to move this node's workspaces away
    exec node "$app/repl.js" wa-drain "$NODE_ID"
    ;;
  sim)
    exec node "$app/sim.js" "$@"
    ;;
  *)
    exec "$cmd" "$@"
    ;;
esac
