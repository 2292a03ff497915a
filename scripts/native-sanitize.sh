#!/usr/bin/env bash
# Builds the native core with AddressSanitizer + UndefinedBehaviorSanitizer
# into build-asan/ (git-ignored; the normal build/ is left alone) and runs the
# native mocha tests (dist/test/native/*.test.js) against that build.
#
# Node itself is not instrumented, so the ASan runtime is preloaded
# (LD_PRELOAD) and the tests load the sanitized addon through
# RANK_NATIVE_ADDON (see src/native/binding.ts). Leak checking is off by
# default: V8 and Node keep allocations alive until exit by design, which
# buries any addon leak in noise. Not part of `npm test` or CI: it is slow.
#
# Usage: scripts/native-sanitize.sh [--no-build] [--no-ubsan] [--valgrind] [mocha test files...]
#   --no-build   reuse build-asan/ as it is
#   --no-ubsan   AddressSanitizer only
#   --valgrind   instead: the normal build/Release addon under valgrind
#                memcheck with leak checking (slow: ~10 min); reports only
#                errors and leaks with an addon frame in their stack
# Extra ASAN_OPTIONS / UBSAN_OPTIONS in the environment are appended.
# Exit status: the tests' (a sanitizer report aborts the process, non-zero);
# with --valgrind: 1 when memcheck reports an error or leak in the addon.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/build-asan"
build=1
ubsan=1
valgrind=0
tests=()
for a in "$@"; do
  case "$a" in
    --no-build) build=0 ;;
    --no-ubsan) ubsan=0 ;;
    --valgrind) valgrind=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) tests+=("$a") ;;
  esac
done
[ ${#tests[@]} -gt 0 ] || tests=("$ROOT"/dist/test/native/*.test.js)

if [ "$valgrind" = 1 ]; then
  command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install -y valgrind)" >&2; exit 2; }
  [ -e "$ROOT/build/Release/ranking_native.node" ] || { echo "no build/Release addon: run npm run build first" >&2; exit 2; }
  mkdir -p "$OUT"
  log="$OUT/valgrind.log"
  cd "$ROOT"
  echo "== valgrind memcheck on ${#tests[@]} test files (log: $log)"
  # Tests with their own timeouts or timing assertions may fail under
  # valgrind's slowdown; that is reported but does not decide the exit status.
  valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --num-callers=40 --smc-check=all-non-file --log-file="$log" \
    node "$ROOT/node_modules/.bin/mocha" --no-config --timeout 1200000 "${tests[@]}" || echo "(mocha exit status $?)"
  # Memcheck also reports V8's own conservative stack scanning and the
  # allocations Node keeps until exit; keep the blocks that involve the addon.
  node -e '
    const text = require("fs").readFileSync(process.argv[1], "utf8");
    const blocks = text.split(/\n==\d+== \n/).map((b) => b.replace(/^==\d+== ?/gm, "").trim());
    const start = /^(Invalid|Conditional jump|Use of uninitialised|Syscall param|Mismatched|Source and destination|Argument|.* bytes in .* blocks are (definitely|indirectly|possibly) lost)/;
    const reports = blocks
      .map((b) => b.split("\n"))
      .map((ls) => ls.slice(Math.max(0, ls.findIndex((l) => start.test(l)))))
      .filter((ls) => start.test(ls[0]))
      .map((ls) => ls.join("\n"));
    const ours = reports.filter((b) => /ranking_native\.node|native\/\w+\.(cc|h)/.test(b));
    console.log(`== memcheck: ${reports.length} error/leak reports in total, ${ours.length} with an addon frame`);
    for (const b of ours) console.log("\n" + b);
    const summary = text.match(/LEAK SUMMARY:[\s\S]*?suppressed:.*$/m);
    if (summary) console.log("\n" + summary[0].replace(/^==\d+== ?/gm, ""));
    process.exit(ours.length > 0 ? 1 : 0);
  ' "$log"
  exit $?
fi

sanitize="-fsanitize=address"
[ "$ubsan" = 1 ] && sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined"

LIBASAN="$(gcc -print-file-name=libasan.so)"
[ -e "$LIBASAN" ] || { echo "libasan.so not found (gcc -print-file-name=libasan.so gave '$LIBASAN'); install gcc's libasan" >&2; exit 2; }

if [ "$build" = 1 ]; then
  # A private copy of binding.gyp and native/: node-gyp has no separate build
  # directory option, and configuring in the repository root would replace
  # build/. The copy lives inside the repository so that the gyp include
  # expression (require('node-addon-api')) resolves from node_modules.
  rm -rf "$OUT"
  mkdir -p "$OUT"
  cp -r "$ROOT/native" "$OUT/native"
  SANITIZE="$sanitize" node -e '
    const fs = require("fs");
    const gyp = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    const flags = [...process.env.SANITIZE.split(" "), "-fno-omit-frame-pointer", "-g", "-O1"];
    for (const t of gyp.targets) {
      t.cflags_cc = [...t.cflags_cc.filter((f) => !/^-O/.test(f)), ...flags];
      t.ldflags = [...(t.ldflags || []), ...process.env.SANITIZE.split(" ")];
    }
    fs.writeFileSync(process.argv[2], JSON.stringify(gyp, null, 2));
  ' "$ROOT/binding.gyp" "$OUT/binding.gyp"
  echo "== building the sanitized addon in $OUT ($sanitize)"
  # The headers node-gyp uses: the project's npm setting (.npmrc nodedir) as
  # `npm run build:native` sees it, else node-gyp's own download cache.
  nodedir="${npm_config_nodedir:-$(cd "$ROOT" && npm config get nodedir 2>/dev/null || true)}"
  gyp_args=()
  if [ -n "$nodedir" ] && [ "$nodedir" != undefined ] && [ "$nodedir" != null ]; then gyp_args+=("--nodedir=$nodedir"); fi
  (cd "$OUT" && "$ROOT/node_modules/.bin/node-gyp" configure "${gyp_args[@]}" && "$ROOT/node_modules/.bin/node-gyp" build -j "${JOBS:-2}")
  echo "== compiling the TypeScript tests"
  # Type errors elsewhere in the tree do not stop tsc from emitting the tests.
  (cd "$ROOT" && "$ROOT/node_modules/.bin/tsc" -p tsconfig.json) || echo "warning: tsc reported errors; running the JavaScript it emitted" >&2
fi

ADDON="$OUT/build/Release/ranking_native.node"
[ -e "$ADDON" ] || { echo "no sanitized addon at $ADDON: run without --no-build" >&2; exit 2; }
ldd "$ADDON" | grep libasan >/dev/null || { echo "$ADDON is not linked against libasan" >&2; exit 2; }

preload="$LIBASAN"
if [ "$ubsan" = 1 ]; then preload="$preload:$(gcc -print-file-name=libubsan.so)"; fi

cd "$ROOT"
export RANK_NATIVE_ADDON="$ADDON"
export LD_PRELOAD="$preload"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# The tests must load the sanitized addon, not build/Release.
node -e '
  const b = require(process.argv[1]);
  const maps = require("fs").readFileSync("/proc/self/maps", "utf8");
  if (!maps.includes(process.argv[2])) { console.error("the sanitized addon was not loaded"); process.exit(3); }
  console.log("== sanitized addon loaded (simd " + b.native.simdLevel + ")");
' "$ROOT/dist/src/native/binding.js" "$ADDON"

echo "== running ${#tests[@]} test files under $sanitize"
echo "   LD_PRELOAD=$LD_PRELOAD"
echo "   ASAN_OPTIONS=$ASAN_OPTIONS"
echo "   UBSAN_OPTIONS=$UBSAN_OPTIONS"
node "$ROOT/node_modules/.bin/mocha" --no-config --timeout 600000 "${tests[@]}"
