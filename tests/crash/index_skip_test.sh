#!/usr/bin/env bash
# `voxir index build|add` over a collection with volumes that cannot be read: each is skipped and
# listed at the end (exit 0 when something was indexed); --strict fails with the volume's exit
# code and writes nothing; nothing indexable fails. (Issue 13, item 3.)
# Usage: tests/crash/index_skip_test.sh <voxir binary>
set -euo pipefail

voxir=${1:?usage: index_skip_test.sh <voxir binary>}
work=$(mktemp -d "${TMPDIR:-/tmp}/voxir-skip.XXXXXX")
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME=$work/xdg
common=(--threads 1 --no-cache --index faiss:Flat)

fail() { echo "index_skip_test: FAIL: $*" >&2; exit 1; }
# run <expected exit> <args...>: runs voxir, keeps stdout+stderr in $work/out.
run() {
  local want=$1; shift
  local got=0
  "$voxir" "$@" >"$work/out" 2>&1 || got=$?
  [[ $got == "$want" ]] || fail "voxir $* exited $got, expected $want: $(cat "$work/out")"
}

"$voxir" synth "$work/data" --subjects 2 --seed 5 --spacing 6 --quiet >/dev/null
good1=$work/data/s0001/ct.nii.gz
good2=$work/data/s0002/ct.nii.gz
head -c 300 /dev/urandom >"$work/junk.nii"                  # not a NIfTI file
printf '\x5c\x01\x00\x00garbage' >"$work/short.nii"          # a NIfTI magic size, then nothing
mkdir "$work/empty-folder"                                  # neither a file nor a DICOM series

run 0 index build "$work/index" "$good1" "$work/junk.nii" "$work/short.nii" "$work/empty-folder" \
  "$work/missing.nii.gz" "${common[@]}"
for bad in junk.nii short.nii empty-folder missing.nii.gz; do
  grep -q "^skipped $work/$bad: " "$work/out" || fail "no 'skipped' line for $bad: $(cat "$work/out")"
done
# Each once, after the progress output, with the summary.
[[ $(grep -c '^skipped ' "$work/out") == 4 ]] || fail "expected 4 skipped lines: $(cat "$work/out")"
grep -q "indexed 1 volumes .*4 skipped" "$work/out" || fail "no summary: $(cat "$work/out")"

# --strict: the first bad volume fails the run with its exit code (3, invalid input); the index
# stays at its generation.
gen_before=$("$voxir" index info --json "$work/index" | grep -o '"generation": [0-9]*')
run 3 index add "$work/index" "$good2" "$work/junk.nii" --strict --threads 1 --no-cache
grep -q "junk.nii" "$work/out" || fail "--strict does not name the volume: $(cat "$work/out")"
[[ $("$voxir" index info --json "$work/index" | grep -o '"generation": [0-9]*') == "$gen_before" ]] ||
  fail "--strict wrote a generation"
run 4 index build "$work/strict" "$good1" "$work/missing.nii.gz" --strict "${common[@]}"
[[ ! -e $work/strict/CURRENT ]] || fail "--strict build wrote an index"

# Without --strict, add skips the bad one and adds the good one.
run 0 index add "$work/index" "$good2" "$work/junk.nii" --threads 1 --no-cache
grep -q "^skipped $work/junk.nii: " "$work/out" || fail "add: no skipped line: $(cat "$work/out")"

# Nothing indexable: non-zero, with the kind of the first failure (3, invalid input).
run 3 index build "$work/none" "$work/junk.nii" "$work/short.nii" "${common[@]}"
grep -q "no volume could be indexed" "$work/out" || fail "no reason given: $(cat "$work/out")"
echo "index_skip_test: ok"
