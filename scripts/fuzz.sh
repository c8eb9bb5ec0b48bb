#!/usr/bin/env bash
# Builds the parsers' libFuzzer targets (clang, ASan + UBSan, in build-fuzz/) and fuzzes each
# for SECONDS (default 600; 0 = only replay the corpora), one at a time, under nice:
#   scripts/fuzz.sh [SECONDS] [TARGET...]    targets: npy idx run_config preprocess_yaml score_results
# Each run starts from fuzz/corpus/<target> plus what earlier runs found (kept in
# build-fuzz/fuzz/work/<target>); a crash stops the script and names the input. With
# IIS_FUZZ_MERGE=1 the corpus and the new inputs are then minimised (-merge=1) into a fresh
# fuzz/corpus/<target>, keeping its named files (seeds, regression_* inputs of fixed findings).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(npy idx run_config preprocess_yaml score_results)
build=${IIS_FUZZ_BUILD:-build-fuzz}

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ nice -n 15 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DIIS_FUZZ=ON -DIIS_BUILD_TESTS=OFF -DIIS_BUILD_BENCH=OFF >/dev/null
fi
nice -n 15 cmake --build "$build" -j2 --target fuzz_all

for t in "${targets[@]}"; do
  work=$build/fuzz/work/$t
  crashes=$build/fuzz/crashes/$t
  log=$build/fuzz/$t.log
  mkdir -p "$work" "$crashes"
  options=(-timeout=20 -rss_limit_mb=4096 -max_len=16384 -artifact_prefix="$crashes/")
  [ -f "fuzz/dict/$t.dict" ] && options+=(-dict="fuzz/dict/$t.dict")
  echo "fuzz_$t: $seconds s (log: $log)"
  duration=(-max_total_time="$seconds")
  [ "$seconds" -gt 0 ] || duration=(-runs=0)  # 0: replay the corpora only
  if ! nice -n 15 "$build/bin/fuzz_$t" "${options[@]}" "${duration[@]}" \
      -print_final_stats=1 "$work" "fuzz/corpus/$t" >"$log" 2>&1; then
    tail -n 30 "$log"
    echo "fuzz_$t failed; the input is in $crashes/ (replay: $build/bin/fuzz_$t FILE)" >&2
    exit 1
  fi
  grep -E "^#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb" "$log" || true
  if [ "${IIS_FUZZ_MERGE:-0}" = 1 ]; then
    fresh=$build/fuzz/merged/$t
    rm -rf "$fresh" && mkdir -p "$fresh"
    # Edges only (-use_counters=0), not hit counts: a much smaller corpus of the same coverage.
    nice -n 15 "$build/bin/fuzz_$t" "${options[@]}" -use_counters=0 -merge=1 "$fresh" \
      "fuzz/corpus/$t" "$work" >"$build/fuzz/$t.merge.log" 2>&1
    # Named files (the seeds, regression_* inputs of fixed findings) stay whatever they add.
    find "fuzz/corpus/$t" -type f -regextype posix-extended ! -regex '.*/[0-9a-f]{40}' \
      -exec cp {} "$fresh"/ \;
    rm -rf "fuzz/corpus/$t" && cp -r "$fresh" "fuzz/corpus/$t"
    echo "fuzz/corpus/$t: $(ls "fuzz/corpus/$t" | wc -l) files, $(du -sb "fuzz/corpus/$t" | cut -f1) bytes"
  fi
done
