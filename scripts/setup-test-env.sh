#!/usr/bin/env bash
# Installs the real components the tests and the demo use (Debian packages), when
# missing. Idempotent; says exactly what is missing when it cannot install.
set -euo pipefail

declare -A need=(
  [docker-registry]=docker-registry
  [htpasswd]=apache2-utils
  [buildah]=buildah
  [dockerd]=docker.io
  [skopeo]=skopeo
  [sshd]=openssh-server
  [busybox]=busybox-static
  [openssl]=openssl
  [git]=git
  [rpmbuild]=rpm
  # kubectl kustomize judges the deploy action's kustomize edits (the conformance suite).
  [kubectl]=kubernetes-client
)
missing=()
for bin in "${!need[@]}"; do
  if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$bin" ]; then
    missing+=("${need[$bin]}")
  fi
done
# PyNaCl has no command: the cosign key test writes keys with it (libsodium).
if ! /usr/bin/python3 -c 'import nacl.secret' >/dev/null 2>&1; then
  missing+=(python3-nacl)
fi
# busybox must be the static build: base images are made from it.
if command -v busybox >/dev/null 2>&1 && ldd "$(command -v busybox)" >/dev/null 2>&1; then
  missing+=(busybox-static)
fi
[ -d /run/sshd ] || mkdir -p /run/sshd 2>/dev/null || true
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "setup-test-env: installing ${missing[*]}" >&2
SUDO=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "setup-test-env: not root and no password-less sudo; run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! { "${SUDO[@]}" apt-get update -qq && "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
  echo "setup-test-env: apt-get failed; run: apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
"${SUDO[@]}" mkdir -p /run/sshd
echo "setup-test-env: installed ${missing[*]}" >&2
