#!/usr/bin/env bash
# Runs every Lua suite of the process library and of lua-examples under stock lua5.3.
# Usage: cu/lua/tests/run.sh [filter]   (from anywhere; it works from the repository root)
set -u
cd "$(dirname "$0")/../../.." || exit 2
LUA=${LUA:-lua5.3}
command -v "$LUA" >/dev/null || { echo "needs $LUA (apt-get install lua5.3)"; exit 2; }
passed=0; failed=0; broken=0
for f in cu/lua/tests/*_test.lua lua-examples/*/test.lua; do
  [ -f "$f" ] || continue
  case "$f" in *"${1:-}"*) ;; *) continue ;; esac
  out=$("$LUA" -e 'package.path = "cu/lua/tests/?.lua;" .. package.path' "$f" 2>&1)
  line=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -n 1)
  if [ -z "$line" ]; then
    broken=$((broken + 1)); failed=$((failed + 1))
    printf 'BROKEN %s\n%s\n' "$f" "$out"
    continue
  fi
  p=$(printf '%s' "$line" | sed -n 's/.*passed=\([0-9]*\).*/\1/p')
  fl=$(printf '%s' "$line" | sed -n 's/.*failed=\([0-9]*\).*/\1/p')
  passed=$((passed + p)); failed=$((failed + fl))
  [ "$fl" -eq 0 ] || printf '%s\n' "$out" | grep -v '^RESULT '
  printf '%-40s %3d passed, %d failed\n' "$f" "$p" "$fl"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
