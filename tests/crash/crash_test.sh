#!/usr/bin/env bash
# Kills `voxir index build|add|remove` with SIGKILL at random moments and checks, after each
# kill, that `voxir index info --verify` passes and that the index holds exactly the volumes it
# held before the command or exactly those it would hold after it: never a mix, never damage.
# (Issue 13, item 4; the guarantees are in docs/index-format.md, "Generations and crash safety".)
#
# Usage: tests/crash/crash_test.sh <voxir binary> [kills=50] [seed=1]
# Volumes are small synthetic phantoms (voxir synth: 32x32 matrix, 3 mm slices, ~150 each) read
# through a warm embedding cache, so most of a command's time is process start-up (libtorch) and
# the write itself. Delays are drawn from bash's RANDOM seeded with `seed`, uniformly between 0.9x
# the start-up time and 1.15x the time of one un-killed add, both measured first on this machine:
# kills land in reading, writing the generation, switching and deleting the old one, and some
# after the command finished. 50 kills took 60 s on the 2-core VM (3-4 min under heavy load).
set -euo pipefail

voxir=${1:?usage: crash_test.sh <voxir binary> [kills] [seed]}
kills=${2:-50}
seed=${3:-1}
RANDOM=$seed

work=$(mktemp -d "${TMPDIR:-/tmp}/voxir-crash.XXXXXX")
trap 'rm -rf "$work"' EXIT
index=$work/index
export XDG_CACHE_HOME=$work/xdg  # never the user's cache
common=(--threads 1 --cache "$work/cache")

fail() { echo "crash_test: FAIL: $*" >&2; exit 1; }

"$voxir" synth "$work/data" --subjects 8 --seed "$seed" --spacing 3 --matrix 32 \
  --region thorax-abdomen --quiet >/dev/null
all=()
for d in "$work"/data/s*/; do all+=("$(basename "$d")"); done
[[ ${#all[@]} -eq 8 ]] || fail "voxir synth made ${#all[@]} subjects, expected 8"
path_of() { echo "$work/data/$1/ct.nii.gz"; }

# Sorted ids of the volumes in the index, one line; exits non-zero when info --verify fails.
volumes_of() {
  "$voxir" index info --verify --json "$index" | grep -o '"id": "[^"]*"' | cut -d'"' -f4 |
    sort | tr '\n' ' '
}
sorted() { printf '%s\n' "$@" | sort | tr '\n' ' '; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Fill the embedding cache with every volume, then start from four.
"$voxir" index build "$index" $(for id in "${all[@]}"; do path_of "$id"; done) \
  --index hnswlib:M8,efc40 "${common[@]}" >/dev/null 2>&1
"$voxir" index build "$index" $(for id in "${all[@]:0:4}"; do path_of "$id"; done) \
  --index hnswlib:M8,efc40 "${common[@]}" >/dev/null 2>&1
state=$(volumes_of) || fail "the first build is not readable"

# Time the start-up and one un-killed add (then undo it), after one of each untimed: the first run
# after a build loads libtorch from a cold disk cache and would set the delays too long.
"$voxir" --version >/dev/null
"$voxir" index add "$index" "$(path_of "${all[4]}")" "${common[@]}" >/dev/null 2>&1
"$voxir" index remove "$index" "${all[4]}" >/dev/null
t0=$(now_ms)
"$voxir" --version >/dev/null
t1=$(now_ms)
"$voxir" index add "$index" "$(path_of "${all[4]}")" "${common[@]}" >/dev/null 2>&1
t2=$(now_ms)
"$voxir" index remove "$index" "${all[4]}" >/dev/null
[[ $(volumes_of) == "$state" ]] || fail "add then remove did not restore the index"
lo=$(( (t1 - t0) * 9 / 10 ))
hi=$(( (t2 - t1) * 115 / 100 ))
((hi > lo)) || hi=$((lo + 1))
echo "crash_test: start-up $((t1 - t0)) ms, one add $((t2 - t1)) ms; kills after ${lo}..${hi} ms"

killed=0 finished=0 kept_old=0 took_new=0
declare -A stages  # kills by the last stage the command reported (its progress on stderr)
for ((i = 1; i <= kills; i++)); do
  read -r -a have <<<"$state"
  missing=()
  for id in "${all[@]}"; do [[ " $state " == *" $id "* ]] || missing+=("$id"); done
  op=$((RANDOM % 3))
  if ((op == 0 && ${#missing[@]} > 0)) || ((op != 2 && ${#have[@]} <= 1)); then
    # add a volume that is not in the index
    add=("${missing[RANDOM % ${#missing[@]}]}")
    cmd=(index add "$index" "$(path_of "${add[0]}")" "${common[@]}")
    new=$(sorted "${have[@]}" "${add[@]}")
  elif ((op == 1)); then
    gone=${have[RANDOM % ${#have[@]}]}
    cmd=(index remove "$index" "$gone")
    keep=()
    for id in "${have[@]}"; do [[ $id == "$gone" ]] || keep+=("$id"); done
    new=$(sorted "${keep[@]}")
  else
    # rebuild from 2..5 volumes, a set other than the current one
    while :; do
      pick=()
      for id in "${all[@]}"; do ((RANDOM % 2)) && pick+=("$id"); done
      ((${#pick[@]} >= 2 && ${#pick[@]} <= 5)) || continue
      new=$(sorted "${pick[@]}")
      [[ $new != "$state" ]] && break
    done
    cmd=(index build "$index" $(for id in "${pick[@]}"; do path_of "$id"; done)
         --index hnswlib:M8,efc40 "${common[@]}")
  fi
  delay_ms=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
  "$voxir" "${cmd[@]}" >/dev/null 2>"$work/stderr" &
  pid=$!
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  if kill -9 "$pid" 2>/dev/null; then
    killed=$((killed + 1))
    wait "$pid" 2>/dev/null || true
    stage=$(tail -n 1 "$work/stderr" | grep -oE '^(embedded|writing vectors|building index|writing catalog|switching)' || true)
    stage=${stage:-start-up}
    stages[$stage]=$((${stages[$stage]:-0} + 1))
  else
    wait "$pid" || fail "kill $i: '${cmd[*]}' failed on its own: $(cat "$work/stderr")"
    finished=$((finished + 1))
  fi
  now=$(volumes_of) || fail "kill $i after ${delay_ms} ms of '${cmd[*]}': index info --verify fails"
  if [[ $now == "$state" ]]; then
    kept_old=$((kept_old + 1))
  elif [[ $now == "$new" ]]; then
    took_new=$((took_new + 1))
  else
    fail "kill $i after ${delay_ms} ms of '${cmd[*]}': the index holds [$now], expected the old [$state] or the new [$new]"
  fi
  state=$now
done

# A write after all that cleans up what the kills left (half-written or half-deleted generations).
read -r -a have <<<"$state"
if ((${#have[@]} > 1)); then
  "$voxir" index remove "$index" "${have[0]}" >/dev/null
else
  "$voxir" index add "$index" "$(path_of "${all[7]}")" "${common[@]}" >/dev/null 2>&1
fi
volumes_of >/dev/null || fail "the index is not readable after the final write"
left=$(find "$index" -mindepth 1 -maxdepth 1 -name 'gen-*' | wc -l)
extra=$(find "$index" -mindepth 1 -maxdepth 1 -name '.*' | wc -l)
((left == 1 && extra == 0)) ||
  fail "after a clean write the index folder holds $left generations and $extra leftovers: $(ls -A "$index")"

echo "crash_test: $kills runs (seed $seed): $killed killed, $finished finished first;" \
  "index kept the old volumes $kept_old times, had the new ones $took_new times; never a mix"
echo -n "crash_test: kills by last stage reported:"
for stage in start-up embedded "writing vectors" "building index" "writing catalog" switching; do
  echo -n " $stage ${stages[$stage]:-0};"
done
echo
((killed > 0 && kept_old > 0 && took_new > 0)) ||
  fail "the kills did not cover both outcomes (old and new): the delays do not fit this machine"
