#!/usr/bin/env bash
# Install (or update) an acceptance station on Raspberry Pi OS / Debian. Idempotent:
# running it again changes nothing, and it never overwrites a config or a key.
#
#   sudo systemd/install.sh [--root DIR] [--skip-packages] [--skip-venv] [--hall] [--release-key HEX]
#                           [--enrol-code CODE --central URL [--central-ca FILE]]
#
# --root DIR       install into DIR instead of / (a scratch root, an image being built)
# --skip-packages  do not apt-get the system packages
# --skip-venv      do not build /opt/acceptance-station/venv (keys are then made with
#                  $ACCEPTANCE_BIN, default: acceptance-station on PATH)
# --hall           also enable the hall display unit (Chromium kiosk)
# --release-key HEX  the release public key ([update] release_public_key of a new config)
# --enrol-code CODE  first boot: enrol at central with this one-time code (acceptance-station enrol):
#                    station id, school, certificate, token and broker are written into the config
# --central URL      central's API (https://...), with --enrol-code
# --central-ca FILE  the CA of central's HTTPS certificate, with --enrol-code
set -euo pipefail

ROOT=/
SKIP_PACKAGES=0
SKIP_VENV=0
HALL=0
RELEASE_KEY=
ENROL_CODE=
CENTRAL_URL=
CENTRAL_CA=
while (($#)); do
  case "$1" in
    --root) ROOT="$2"; shift 2 ;;
    --skip-packages) SKIP_PACKAGES=1; shift ;;
    --skip-venv) SKIP_VENV=1; shift ;;
    --hall) HALL=1; shift ;;
    --release-key) RELEASE_KEY="$2"; shift 2 ;;
    --enrol-code) ENROL_CODE="$2"; shift 2 ;;
    --central) CENTRAL_URL="$2"; shift 2 ;;
    --central-ca) CENTRAL_CA="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
ROOT="${ROOT%/}"
if [ -n "$RELEASE_KEY" ] && ! [[ "$RELEASE_KEY" =~ ^[0-9a-f]{64}$ ]]; then
  echo "install.sh: --release-key must be 64 lower-case hex digits (keys show --key release.key)" >&2
  exit 2
fi
if [ -n "$ENROL_CODE" ] && [ -z "$CENTRAL_URL" ]; then
  echo "install.sh: --enrol-code needs --central URL" >&2
  exit 2
fi
SRC="$(cd "$(dirname "$0")/.." && pwd)"
OPT="$ROOT/opt/acceptance-station"
ETC="$ROOT/etc/acceptance-station"
USER_NAME=acceptance
HALL_USER=acceptance-hall
say() { echo "install: $*" >&2; }

# Copy a file only when its content or mode differs (so a second run touches nothing).
put() {  # put MODE SRC DEST
  local mode="$1" src="$2" dest="$3"
  mkdir -p "$(dirname "$dest")"
  if [ -f "$dest" ] && cmp -s "$src" "$dest" && [ "$(stat -c %a "$dest")" = "${mode#0}" ]; then
    return 0
  fi
  install -m "$mode" "$src" "$dest"
  say "wrote $dest"
}

# 1. System packages.
if [ "$SKIP_PACKAGES" = 0 ] && [ -z "$ROOT" ]; then
  pkgs=(python3-venv python3-dev libzbar0 fonts-noto-cjk chromium cage ffmpeg espeak-ng)
  # evdev has wheels for x86_64 only (evdev-binary); elsewhere (the Pi) it builds from source.
  [ "$(uname -m)" = x86_64 ] || pkgs+=(gcc libc6-dev)
  missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    say "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

# 2. Users: the services run unprivileged, in the groups for serial, camera and input.
if [ -z "$ROOT" ]; then
  id -u "$USER_NAME" >/dev/null 2>&1 || {
    useradd --system --home-dir /var/lib/acceptance-station --no-create-home \
      --shell /usr/sbin/nologin --groups dialout,video,input "$USER_NAME"
    say "created user $USER_NAME"; }
  id -u "$HALL_USER" >/dev/null 2>&1 || {
    useradd --system --home-dir /var/lib/acceptance-hall --no-create-home \
      --shell /usr/sbin/nologin --groups video,render,input "$HALL_USER"
    say "created user $HALL_USER"; }
else
  say "scratch root: users $USER_NAME and $HALL_USER are created on the target, not here"
fi

# 3. The program in a venv under /opt (rebuilt only when the lock or the source changed):
#    every dependency from requirements/station.lock, each file checked against its sha256,
#    then the program itself without dependencies. Never psycopg: that is central's.
#    Once an update has switched $OPT/current, the releases own the program (venv -> current/venv):
#    this step leaves it alone (docs/deployment.md, "Updates").
BIN="${ACCEPTANCE_BIN:-acceptance-station}"
if [ "$SKIP_VENV" = 0 ] && [ -L "$OPT/current" ]; then
  say "program managed by updates ($OPT/current -> $(readlink "$OPT/current")): venv left alone"
  BIN="$OPT/venv/bin/acceptance-station"
elif [ "$SKIP_VENV" = 0 ]; then
  stamp_want=$(cd "$SRC" && cat pyproject.toml requirements/build.lock requirements/station.lock \
    $(git ls-files edge firmware_bridge sync 2>/dev/null) 2>/dev/null | sha256sum | cut -c1-16)
  if [ ! -x "$OPT/venv/bin/python" ]; then
    python3 -m venv "$OPT/venv"
  fi
  if [ "$(cat "$OPT/venv/.source-stamp" 2>/dev/null)" != "$stamp_want" ]; then
    # pip brings the pinned installer (build.lock's uv entry, hash-checked), then uv installs the
    # rest of build.lock (pip, setuptools, wheel: pip took seconds more for them, compiling each),
    # the station's lock (every file checked against its sha256) and the program.
    uv_req=$(mktemp)
    awk '/^uv==/ { p = 1; print; next } p && /^[ \t]/ { print; next } { p = 0 }' \
      "$SRC/requirements/build.lock" > "$uv_req"
    grep -q '^uv==' "$uv_req" || { echo "install.sh: no uv in requirements/build.lock" >&2; exit 1; }
    "$OPT/venv/bin/python" -m pip install -q --require-hashes -r "$uv_req"
    rm -f "$uv_req"
    "$OPT/venv/bin/uv" pip install --quiet --python "$OPT/venv/bin/python" --require-hashes \
      -r "$SRC/requirements/build.lock"
    # Compiled at install: the services cannot write under $OPT, so uncompiled modules would be
    # compiled again at every start of every process (pip and setuptools above run as root only).
    uv=("$OPT/venv/bin/uv" pip install --quiet --compile-bytecode --python "$OPT/venv/bin/python")
    "${uv[@]}" --require-hashes --no-build-isolation -r "$SRC/requirements/station.lock"
    "${uv[@]}" --no-deps --no-build-isolation --reinstall "$SRC"
    echo "$stamp_want" > "$OPT/venv/.source-stamp"
    say "installed the program into $OPT/venv"
  fi
  BIN="$OPT/venv/bin/acceptance-station"
fi

# 4. Config from the example, never overwriting one that exists.
mkdir -p "$ETC"
chmod 0750 "$ETC"
if [ ! -e "$ETC/station.toml" ]; then
  install -m 0640 "$SRC/config/station.example.toml" "$ETC/station.toml"
  if [ -n "$RELEASE_KEY" ]; then
    sed -i "s|^# release_public_key = .*|release_public_key = \"$RELEASE_KEY\"  # set by install.sh|" \
      "$ETC/station.toml"
  fi
  say "wrote $ETC/station.toml from the example: set station_id and school_id"
fi

# 5. The station key, once; owned by the service user, mode 0600.
if [ ! -e "$ETC/station.key" ]; then
  "$BIN" keys init --key "$ETC/station.key" > /dev/null
  say "generated $ETC/station.key; public key in $ETC/station.key.pub (register it at central)"
fi

# 5b. First boot: enrol at central (docs/deployment.md, "First boot"); the secrets it writes
#     (MQTT key, API token) are the service user's, mode 0600.
if [ -n "$ENROL_CODE" ]; then
  if [ -n "$ROOT" ]; then  # a scratch root: the config's paths must point into it
    sed -i -e "s|^data_dir = \"/var/lib/acceptance-station\"|data_dir = \"$ROOT/var/lib/acceptance-station\"|" \
      -e "s|^key_path = \"/etc/acceptance-station/station.key\"|key_path = \"$ETC/station.key\"|" "$ETC/station.toml"
  fi
  enrol=("$BIN" enrol --config "$ETC/station.toml" --central "$CENTRAL_URL" --code "$ENROL_CODE")
  [ -n "$CENTRAL_CA" ] && enrol+=(--ca-file "$CENTRAL_CA")
  if ! "${enrol[@]}" >&2; then
    echo "install.sh: enrolment at $CENTRAL_URL failed (see above); nothing else was changed by it" >&2
    exit 1
  fi
  say "enrolled at $CENTRAL_URL"
fi
if [ -z "$ROOT" ]; then
  chown "$USER_NAME:$USER_NAME" "$ETC/station.key"
  for f in "$ETC/mqtt.key" "$ETC/api.token"; do
    [ -e "$f" ] && chown "$USER_NAME:$USER_NAME" "$f"
  done
  chgrp "$USER_NAME" "$ETC" "$ETC/station.toml"
fi

# 6. udev rule for a stable scale name, and the units.
put 0644 "$SRC/systemd/99-acceptance-scale.rules" "$ROOT/etc/udev/rules.d/99-acceptance-scale.rules"
for unit in acceptance-station.service acceptance-sync.service acceptance-hall.service \
            acceptance-update.service acceptance-update.timer; do
  put 0644 "$SRC/systemd/$unit" "$ROOT/etc/systemd/system/$unit"
done

# 7. Enable the units (systemctl --root works on a scratch root without a running systemd).
units=(acceptance-station.service acceptance-sync.service)
[ "$HALL" = 1 ] && units+=(acceptance-hall.service)
# Updates poll central only on a kiosk that trusts a release key (--release-key, now or before).
if [ -n "$RELEASE_KEY" ] || grep -Eq '^release_public_key *= *"[0-9a-f]{64}"' "$ETC/station.toml" 2>/dev/null; then
  units+=(acceptance-update.timer)
fi
if [ -z "$ROOT" ]; then
  systemctl daemon-reload
  udevadm control --reload-rules 2>/dev/null || true
  systemctl enable --quiet "${units[@]}"
else
  systemctl --root="$ROOT" enable --quiet "${units[@]}"
fi
say "done"
