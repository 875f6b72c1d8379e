#!/usr/bin/env bash
# The master's layering, checked on every #include: a file may include
# headers of its own layer and of the layers below it, never above. The
# layers, lowest first (CMake targets follow the same order: master/CMakeLists.txt):
#   0  common/ api/ master/raft/     shared code, the protos, the pure Raft core
#   1  master/replication/           RaftNode, storage, transport, StateMachine
#   2  master/model/ services/ events/ ui/   domain predicates, fit, secrets, limits
#   3  master/deployments/
#   4  master/scheduler/
#   5  master/validation.{h,cpp}     job documents (uses the scheduler's checks)
#   6  master/state/                 the StateStore (a StateMachine)
#   7  master/acl/
#   8  master/controllers/
#   9  master/http/
#  10  master/*.{h,cpp}              wiring: config, Master, main
# Usage: check_layers.sh [SOURCE_DIR]; prints each violation, exit 1 if any.
set -euo pipefail
cd "${1:-$(dirname "$0")/../..}"

layer_of() {
  case "$1" in
    common/*|api/*|master/raft/*) echo 0 ;;
    master/replication/*) echo 1 ;;
    master/model/*|master/services/*|master/events/*|master/ui/*) echo 2 ;;
    master/deployments/*) echo 3 ;;
    master/scheduler/*) echo 4 ;;
    master/validation.*) echo 5 ;;
    master/state/*) echo 6 ;;
    master/acl/*) echo 7 ;;
    master/controllers/*) echo 8 ;;
    master/http/*) echo 9 ;;
    master/*/*) echo "unknown" ;;
    master/*) echo 10 ;;
    *) echo "" ;;
  esac
}

bad=0
files=0
while IFS= read -r file; do
  files=$((files + 1))
  mine=$(layer_of "$file")
  if [ "$mine" = unknown ]; then
    echo "$file: in a folder with no layer (add it to tests/layering/check_layers.sh)"
    bad=1
    continue
  fi
  while IFS= read -r inc; do
    theirs=$(layer_of "$inc")
    [ -z "$theirs" ] && continue
    if [ "$theirs" = unknown ] || [ "$theirs" -gt "$mine" ]; then
      echo "$file (layer $mine) includes $inc (layer $theirs)"
      bad=1
    fi
  done < <(sed -n 's/^#include "\(\(common\|api\|master\)\/[^"]*\)".*/\1/p' "$file")
done < <(find common api master -name '*.h' -o -name '*.cpp' | sort)

if [ "$files" -lt 100 ]; then
  echo "only $files files found: run from the source tree"
  exit 1
fi
if [ "$bad" -ne 0 ]; then exit 1; fi
echo "layering: $files files, no include from a lower layer to a higher one"
