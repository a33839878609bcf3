#!/usr/bin/env bash
# Checks etc/bash_completion.d/tandemctl: completions for commands, subcommands,
# keywords and flags. Usage: completion_test.sh PATH-TO-COMPLETION-SCRIPT
set -u
# shellcheck source=/dev/null
source "$1" || exit 1
fails=0
expect() {  # expect "EXPECTED WORDS" WORD...  (the last word is the one being completed)
  local want="$1"; shift
  COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
  _tandemctl
  local got="${COMPREPLY[*]}"
  if [[ "$got" != "$want" ]]; then
    echo "FAIL: [$*] -> '$got', expected '$want'"; fails=$((fails + 1))
  fi
}
expect "neighbor rib events global bfd ha capture mrt help version" tandemctl ""
expect "--socket" tandemctl --so
expect "--tls-ca --tls-cert --tls-key" tandemctl --tls
expect "neighbor" tandemctl --socket /tmp/x.sock ne
expect "add del enable disable reset help" tandemctl neighbor ""
expect "" tandemctl neighbor add ""
expect "as" tandemctl neighbor add 192.0.2.1 a
expect "bfd bfd-tx bfd-rx bfd-mult" tandemctl neighbor add 192.0.2.1 as 1 bf
expect "ipv4-unicast ipv6-unicast" tandemctl neighbor add 192.0.2.1 as 1 families ""
expect "soft-in soft-out soft" tandemctl neighbor reset 192.0.2.1 so
expect "communication" tandemctl neighbor disable 192.0.2.1 c
expect "summary add del help" tandemctl rib ""
expect "--peer --in --out --best --json" tandemctl rib --
expect "longer" tandemctl rib 10.0.0.0/8 lo
expect "igp egp incomplete" tandemctl rib add 10.0.0.0/8 origin ""
expect "local-pref large-community" tandemctl rib add 10.0.0.0/8 l
expect "--peer --peer-state" tandemctl events --peer
expect "router-id" tandemctl global set r
expect "neighbor rib events global bfd ha capture mrt" tandemctl help ""
expect "--json" tandemctl bfd --
expect "digests status switchover help" tandemctl ha ""
expect "digests" tandemctl ha d
expect "--peer --json" tandemctl ha digests --
expect "--peer" tandemctl ha digests --p
expect "--json" tandemctl ha --
expect "capture" tandemctl cap
expect "--peer --type --count --pcapng --json" tandemctl capture ""
expect "--pcapng" tandemctl capture --peer 192.0.2.1 --pc
expect "update open notification keepalive route-refresh" tandemctl capture --type ""
expect "route-refresh" tandemctl capture --type ro
expect "inject help" tandemctl mrt ""
expect "--count --nexthop --json" tandemctl mrt inject rib.mrt --
expect "--nexthop" tandemctl mrt inject rib.mrt --n
expect "self" tandemctl mrt inject rib.mrt --nexthop s
expect "mrt" tandemctl help m
if ((fails > 0)); then exit 1; fi
echo "bash completion: all checks passed"
