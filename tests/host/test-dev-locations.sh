#!/usr/bin/env bash
# tools/dev from checkouts in awkward places: below /tmp/…/ (the root's
# private /tmp used to hide the mount point), a path with spaces, a folder
# reached through a symbolic link, and a writable checkout inside a read-only
# folder.  Each place gets a minimal checkout (tools/dev and its pin list,
# which is all `tools/dev exec` reads) and must run a command inside the
# environment that sees its own files at its own path.
#
# Runs on the host, outside the Debian 13 root: `tools/dev test` calls it
# before entering the root (inside it tools/dev runs natively and would not
# exercise the mounts).  Prints one "ok NAME" or "FAIL NAME: why" line per
# case; exits non-zero when any case fails.
# SPDX-License-Identifier: GPL-3.0-or-later
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
# Case 1 lives below /tmp; the others below /var/tmp, so that each fails
# for its own reason and not for /tmp's.
tmp=$(mktemp -d /tmp/lisse-dev-locations.XXXXXX)
work=$(mktemp -d /var/tmp/lisse-dev-locations.XXXXXX)
cleanup() { rm -rf "$tmp" "$work"; }
trap cleanup EXIT

fails=0

# A checkout holding just what `tools/dev exec` needs, plus a marker file
# whose content names the case, so the command inside proves it sees this
# very checkout and not another one at a similar path.
make_checkout() {
  local dir=$1 name=$2
  mkdir -p "$dir/tools"
  cp "$repo/tools/dev" "$repo/tools/dev-root.pins" "$dir/tools/"
  printf '%s\n' "$name" >"$dir/marker"
}

# run_case NAME DIR [WRAPPER...]: tools/dev exec in DIR must print the
# marker and the physical path of DIR.
run_case() {
  local name=$1 dir=$2; shift 2
  local want_path out rc
  want_path=$(cd "$dir" && pwd -P)
  out=$("$@" "$dir/tools/dev" exec /bin/sh -c 'cat marker; pwd; touch build/written' 2>&1)
  rc=$?
  local want
  want=$(printf '%s\n%s' "$name" "$want_path")
  if [ $rc -ne 0 ]; then
    echo "FAIL $name: tools/dev exec exited $rc: $(printf '%s' "$out" | tail -3)"
    fails=$((fails + 1))
  elif [ "$out" != "$want" ]; then
    echo "FAIL $name: expected marker and path '$want', got '$out'"
    fails=$((fails + 1))
  elif [ ! -f "$want_path/build/written" ]; then
    echo "FAIL $name: a file written inside the environment is not in the checkout"
    fails=$((fails + 1))
  else
    echo "ok $name"
  fi
}

# 1. below /tmp/…/ (mktemp -d, as a new user would clone)
make_checkout "$tmp/deep/lisse" below-tmp
run_case below-tmp "$tmp/deep/lisse"

# 2. a path with spaces (and a quote)
make_checkout "$work/with space/it's lisse" spaces
run_case spaces "$work/with space/it's lisse"

# 3. a symbolic link to a checkout elsewhere; the link's own folder holds
#    nothing else
make_checkout "$work/real/place/lisse" symlink
mkdir -p "$work/links"
ln -s "$work/real/place/lisse" "$work/links/lisse"
run_case symlink "$work/links/lisse"

# 4. a writable checkout inside a read-only folder: the folder is a
#    read-only bind mount in a private mount namespace, the checkout a
#    writable mount inside it.
ro_dir="$work/read-only"
make_checkout "$ro_dir/lisse" read-only-parent
run_case read-only-parent "$ro_dir/lisse" \
  unshare --mount --propagation private -- /bin/sh -c '
    set -e
    dir=$1; shift
    parent=$(dirname "$dir")
    mount --bind "$parent" "$parent"
    mount -o remount,bind,ro "$parent"
    mount --bind "$dir" "$dir"                 # a bind copies the ro flag:
    mount -o remount,bind,rw "$dir"            # make the checkout writable
    if touch "$parent/probe" 2>/dev/null; then echo "parent is not read-only" >&2; exit 3; fi
    exec "$@"' sh "$ro_dir/lisse"

exit $((fails > 0))
