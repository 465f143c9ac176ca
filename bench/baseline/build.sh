#!/usr/bin/env bash
# Rebuilds bench/baseline/crm-d8a7d26.wasm: fixtures/crm.json compiled by the
# compiler and runtime of commit d8a7d26 (main before the memory-model rewrite),
# in a temporary worktree that is removed afterwards. See README.md beside it.
#
#   bash bench/baseline/build.sh            # writes the .wasm and prints its sha256
set -euo pipefail

COMMIT=d8a7d26
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(git -C "$here" rev-parse --show-toplevel)"
tree="$(mktemp -d "${TMPDIR:-/tmp}/perso-baseline.XXXXXX")"
out="$here/crm-$COMMIT.wasm"

cleanup() { git -C "$repo" worktree remove --force "$tree" 2>/dev/null || rm -rf "$tree"; }
trap cleanup EXIT

git -C "$repo" worktree add --detach "$tree" "$COMMIT" >/dev/null
# npm ci runs `prepare`, which is that commit's `npm run build` (tsc + runtime).
(cd "$tree" && npm ci --no-audit --no-fund >/dev/null)
(cd "$tree" && node --input-type=module -e "
  import { readFileSync, writeFileSync } from 'node:fs'
  const { compile } = await import('./dist/src/compiler/compile.js')
  const { wasm, diagnostics } = await compile(readFileSync('fixtures/crm.json'), { filename: 'fixtures/crm.json' })
  if (wasm === undefined) throw new Error(JSON.stringify(diagnostics))
  writeFileSync(process.argv[1], wasm)
" "$out")
echo "$out: $(wc -c <"$out") bytes"
sha256sum "$out" 2>/dev/null || shasum -a 256 "$out"
