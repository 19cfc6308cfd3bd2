#!/bin/sh
# GNU parallel: N shards as N local processes, or over ssh on several machines (--sshlogin),
# each given its index explicitly; then one merge.
#   docs/cluster/parallel.sh CAPTURES RESULTS [N]
set -eu
captures=$1
results=$2
n=${3:-4}
mkdir -p "$results"
seq 0 $((n - 1)) | parallel --halt now,fail=1 \
    switchyard analyze --quiet --fail-on never --jobs 1 --shard {}/"$n" --output "$results"/shard-{}.jsonl "$captures"
switchyard merge --output "$results"/findings.jsonl "$results"/shard-*.jsonl
# On several machines that see the same files (same paths):
#   seq 0 7 | parallel -S host1,host2,host3,host4 \
#       switchyard analyze --quiet --fail-on never --shard {}/8 -o /shared/results/shard-{}.jsonl /shared/captures
