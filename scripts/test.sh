#!/usr/bin/env bash
# The whole test suite: `npm test`. Installs what the tests need on a fresh
# Debian machine (chromium for the browser tests, openssh-server for the SSH
# tests' loopback sshd, ansible for the CMDB's Ansible mode), then runs every
# test/**/*.test.ts with node's runner. DATABASE_URL=mysql://... runs the same
# tests on MySQL/MariaDB; unset, they run on SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v git >/dev/null 2>&1 || missing+=(git)
# only the binary: test/support/sshd.ts runs its own sshd processes on loopback
# (Debian's package would also enable the system service where one can start)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
# the CMDB's Ansible mode is tested against the same loopback sshd servers
command -v ansible >/dev/null 2>&1 || missing+=(ansible)
# the agent's installer is tested as the README runs it: curl piped into sh
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing ${missing[*]} (Debian packages the tests need)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "test: missing ${missing[*]}; install them (sudo apt-get install ${missing[*]}) and run again" >&2
    exit 1
  fi
fi
[ -d node_modules ] || npm ci

mapfile -t files < <(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-3}" "${files[@]}"
