#!/bin/sh
# Installs the Longship agent on this machine, reports it once, and schedules
# it in cron. Served by the console at /agent/install.sh, which fills in the
# two values below; read it before you pipe it into a root shell.
#
#   curl -fsSL CONSOLE/agent/install.sh | sudo LONGSHIP_TOKEN=lse_... sh
#
# Run it again to upgrade the agent or change its settings (the token kept
# from the last install is reused); --uninstall removes it.
set -eu

SERVER=__LONGSHIP_SERVER__
AGENT_SHA256=__LONGSHIP_AGENT_SHA256__

usage() {
  cat <<'EOF'
usage: install.sh [options]          (token from LONGSHIP_TOKEN or --token)
  --token TOKEN        enrollment token from the console's /assets/enroll page
  --server URL         the console's address (default: where this script came from)
  --every MINUTES      how often cron runs the agent, 1-60 (default 15)
  --collectors LIST    comma-separated collectors (default: all)
  --prefix DIR         install everything under DIR instead of /opt, /etc,
                       /var/lib and /usr/local/bin (needed when not root)
  --cron-file FILE     the cron.d file to write (default /etc/cron.d/longship-agent)
  --no-cron            install and report once, but do not schedule
  --uninstall          remove the agent, its token and its cron entry
                       (the identity file is kept, so a reinstall is the same asset)
EOF
}

fail() {
  echo "longship-agent install: $*" >&2
  exit 1
}

bad_usage() {
  echo "longship-agent install: $*" >&2
  usage >&2
  exit 2
}

TOKEN=${LONGSHIP_TOKEN:-}
EVERY=15
COLLECTORS=
PREFIX=
CRON_FILE=/etc/cron.d/longship-agent
CRON=yes
UNINSTALL=no

while [ $# -gt 0 ]; do
  case $1 in
    --token|--server|--every|--collectors|--prefix|--cron-file)
      [ $# -ge 2 ] || bad_usage "$1 needs a value"
      case $1 in
        --token) TOKEN=$2 ;;
        --server) SERVER=$2 ;;
        --every) EVERY=$2 ;;
        --collectors) COLLECTORS=$2 ;;
        --prefix) PREFIX=$2 ;;
        --cron-file) CRON_FILE=$2 ;;
      esac
      shift 2 ;;
    --no-cron) CRON=no; shift ;;
    --uninstall) UNINSTALL=yes; shift ;;
    -h|--help) usage; exit 0 ;;
    *) bad_usage "unknown argument $1" ;;
  esac
done

case $EVERY in
  ''|*[!0-9]*) bad_usage "--every must be a whole number of minutes from 1 to 60" ;;
esac
[ "$EVERY" -ge 1 ] && [ "$EVERY" -le 60 ] || bad_usage "--every must be a whole number of minutes from 1 to 60"
case $COLLECTORS in
  *[!a-z,]*) bad_usage "--collectors is a comma-separated list like os,cpu,memory" ;;
esac
case $SERVER in
  http://*|https://*) SERVER=${SERVER%/} ;;
  *) bad_usage "--server must be an http:// or https:// URL" ;;
esac

# One layout for root (the usual places), one under a prefix for anyone else.
if [ -n "$PREFIX" ]; then
  case $PREFIX in
    /*) ;;
    *) PREFIX=$(pwd)/$PREFIX ;;
  esac
  case $PREFIX in
    *[!A-Za-z0-9/._-]*) bad_usage "the prefix $PREFIX may hold letters, digits and / . _ - only (it goes into a crontab line)" ;;
  esac
  LIB_DIR=$PREFIX
  CONF_DIR=$PREFIX
  STATE_DIR=$PREFIX
  LINK=
else
  [ "$(id -u)" = 0 ] || fail "run as root (sudo sh), or pass --prefix DIR --no-cron to install for this user only"
  LIB_DIR=/opt/longship-agent
  CONF_DIR=/etc/longship-agent
  STATE_DIR=/var/lib/longship-agent
  LINK=/usr/local/bin/longship-agent
fi
BUNDLE=$LIB_DIR/longship-agent.mjs
COMMAND=$LIB_DIR/longship-agent
TOKEN_FILE=$CONF_DIR/token
IDENTITY=$STATE_DIR/identity.json

# Everything written below holds or guards the token: nobody else reads it.
umask 077

if [ "$UNINSTALL" = yes ]; then
  rm -f "$CRON_FILE" "$BUNDLE" "$COMMAND" "$TOKEN_FILE"
  if [ -n "$LINK" ] && [ -L "$LINK" ]; then rm -f "$LINK"; fi
  # the directories go too when nothing else is in them (under a prefix, the identity stays)
  rmdir "$LIB_DIR" "$CONF_DIR" 2>/dev/null || true
  echo "longship-agent: removed (identity kept in $IDENTITY)"
  exit 0
fi

# The agent is one file of JavaScript with no dependencies, built for Node 18.
NODE=$(command -v node || true)
[ -n "$NODE" ] || fail "Node.js 18 or later is needed and 'node' is not on PATH (Debian/Ubuntu: apt-get install nodejs)"
"$NODE" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' 2>/dev/null ||
  fail "Node.js 18 or later is needed; $NODE is $("$NODE" --version 2>/dev/null || echo 'not runnable')"

if [ -z "$TOKEN" ] && [ -s "$TOKEN_FILE" ]; then
  TOKEN=$(cat "$TOKEN_FILE")
fi
[ -n "$TOKEN" ] || bad_usage "no token: pass LONGSHIP_TOKEN=... or --token (create one on $SERVER/assets/enroll)"
case $TOKEN in
  *[!A-Za-z0-9_-]*) bad_usage "the token has characters a Longship token never has; copy it again from the console" ;;
esac

mkdir -p "$LIB_DIR" "$CONF_DIR" "$STATE_DIR"
chmod 755 "$LIB_DIR"

# Downloaded aside, checked against the hash this script was served with,
# then renamed over: a cut download or a console upgraded in between never
# leaves a half-written agent behind.
TEMP=$BUNDLE.download.$$
trap 'rm -f "$TEMP"' EXIT
if command -v curl >/dev/null 2>&1; then
  # -g: the URL is taken as it is, no curl globbing of [] and {}
  curl -fsSg -o "$TEMP" "$SERVER/agent/longship-agent.mjs" || fail "cannot download $SERVER/agent/longship-agent.mjs"
elif command -v wget >/dev/null 2>&1; then
  wget -q -O "$TEMP" "$SERVER/agent/longship-agent.mjs" || fail "cannot download $SERVER/agent/longship-agent.mjs"
else
  fail "curl or wget is needed to download the agent"
fi
if command -v sha256sum >/dev/null 2>&1; then
  GOT=$(sha256sum "$TEMP" | cut -d' ' -f1)
elif command -v shasum >/dev/null 2>&1; then
  GOT=$(shasum -a 256 "$TEMP" | cut -d' ' -f1)
else
  fail "sha256sum or shasum is needed to check the download"
fi
[ "$GOT" = "$AGENT_SHA256" ] ||
  fail "the downloaded agent does not match this script's checksum (the console may have been upgraded meanwhile); run the command again"
chmod 644 "$TEMP"
mv -f "$TEMP" "$BUNDLE"

# The token lives in a file only root reads, not in the crontab or in ps.
printf '%s\n' "$TOKEN" > "$TOKEN_FILE.new"
mv -f "$TOKEN_FILE.new" "$TOKEN_FILE"

# cron runs with a bare PATH, so the command names node by its full path.
quote() {
  printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}
{
  echo '#!/bin/sh'
  echo '# Written by the Longship agent installer; run the installer again to change it.'
  printf 'exec %s %s --server %s --token-file %s --identity %s' \
    "$(quote "$NODE")" "$(quote "$BUNDLE")" "$(quote "$SERVER")" "$(quote "$TOKEN_FILE")" "$(quote "$IDENTITY")"
  if [ -n "$COLLECTORS" ]; then printf ' --collectors %s' "$COLLECTORS"; fi
  echo ' "$@"'
} > "$COMMAND.new"
chmod 755 "$COMMAND.new"
mv -f "$COMMAND.new" "$COMMAND"
if [ -n "$LINK" ] && [ -d "$(dirname "$LINK")" ]; then
  ln -sfn "$COMMAND" "$LINK"
fi

# The first report tells whether the token and the address are right before
# anything is scheduled.
"$COMMAND" || fail "the first report failed (above); nothing was scheduled. Fix it and run the installer again"

if [ "$CRON" = yes ]; then
  CRON_DIR=$(dirname "$CRON_FILE")
  [ -d "$CRON_DIR" ] || fail "$CRON_DIR does not exist (is cron installed?); install cron, or pass --no-cron and schedule $COMMAND yourself"
  # a random minute within the period, so a fleet does not report in the same second
  OFFSET=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % EVERY ))
  if [ "$EVERY" -eq 60 ]; then MINUTE=$OFFSET; else MINUTE="$OFFSET-59/$EVERY"; fi
  {
    echo '# Longship agent: reports this machine to the console. Written by its installer.'
    # stdout is the one success line; only a failure (stderr) reaches cron's mail
    echo "$MINUTE * * * * $(id -un) $COMMAND >/dev/null"
  } > "$CRON_FILE.new"
  chmod 644 "$CRON_FILE.new"
  mv -f "$CRON_FILE.new" "$CRON_FILE"
  echo "longship-agent: installed in $LIB_DIR; cron runs it every $EVERY minutes ($CRON_FILE)"
  # /etc/cron.d may exist without a daemon reading it (a minimal image): say so rather than fail
  if [ ! -x /usr/sbin/cron ] && [ ! -x /usr/sbin/crond ] && ! command -v crond >/dev/null 2>&1; then
    echo "longship-agent install: warning: no cron daemon found; $CRON_FILE takes effect once one runs (Debian/Ubuntu: apt-get install cron)" >&2
  fi
else
  echo "longship-agent: installed in $LIB_DIR; not scheduled (--no-cron): run $COMMAND from your scheduler"
fi
