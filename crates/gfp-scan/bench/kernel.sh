#!/usr/bin/env bash
# The scanner's speed on a real kernel tree, against Coccinelle in the same run.
#
#   crates/gfp-scan/bench/kernel.sh /path/to/linux [RUNS]
#
# Prints, for RUNS runs each (default 3): the whole tree with every rule, then
# fs/ with gfp scan and with spatch running the kernel's own
# scripts/coccinelle/locks/call_kern.cocci (GFP_KERNEL under a lock, found
# within one function only). Reports medians and the ratio. Needs `spatch`
# (Debian: coccinelle) and a release build of gfp.
set -euo pipefail
tree=${1:?usage: kernel.sh LINUX-TREE [RUNS]}
runs=${2:-3}
here=$(cd "$(dirname "$0")/../../.." && pwd)
gfp=$here/target/release/gfp
[ -x "$gfp" ] || (cd "$here" && cargo build --release -q -p gfp-cli)
jobs=$(nproc)

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); awk -v a="$s" -v b="$e" 'BEGIN {printf "%.2f", b - a}'; }
kv=$(awk '/^VERSION =/ {v=$3} /^PATCHLEVEL =/ {p=$3} END {print v "." p}' "$tree/Makefile")

whole=(); fs=(); cocci=()
for _ in $(seq "$runs"); do
  whole+=("$(secs "$gfp" scan "$tree" --fail-on never)")
  fs+=("$(secs "$gfp" scan "$tree/fs" --kernel "$kv" --fail-on never)")
  cocci+=("$(secs spatch --sp-file "$tree/scripts/coccinelle/locks/call_kern.cocci" -D report --very-quiet --no-includes --include-headers -j "$jobs" --dir "$tree/fs")")
done
mw=$(printf '%s\n' "${whole[@]}" | median)
mf=$(printf '%s\n' "${fs[@]}" | median)
mc=$(printf '%s\n' "${cocci[@]}" | median)
"$gfp" scan "$tree" --fail-on never | tail -4
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "whole tree, all rules: runs ${whole[*]} s; median $mw s"
echo "fs/ gfp scan:          runs ${fs[*]} s; median $mf s"
echo "fs/ spatch call_kern:  runs ${cocci[*]} s; median $mc s"
echo "ratio spatch / gfp scan on fs/: $(awk -v c="$mc" -v g="$mf" 'BEGIN {printf "%.1f", c / g}')x"
