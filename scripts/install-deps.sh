#!/usr/bin/env bash
# Installs what streamrun needs to build and test, from Debian packages only.
# Idempotent: installs only what is missing; uses sudo when not root.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  clang libclang-rt-14-dev clang-format clang-tidy
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  doctest-dev libsimdjson-dev libabsl-dev libre2-dev
  librdkafka-dev kcat python3-confluent-kafka
  librocksdb-dev
  libcurl4-openssl-dev libssl-dev curl
  prometheus-cpp-dev libcivetweb-dev
  prometheus docker-compose chromium
  libprotobuf-dev libprotoc-dev protobuf-compiler libavro-dev python3-protobuf
)
# npm tools the tests use: s3rver, an S3-compatible server (checkpoints to s3://);
# playwright-core, which drives Debian's chromium in the web-view test (it
# downloads no browser of its own). npm itself comes with the machine's Node.js
# (not the Debian package).
NPM_TOOLS=(s3rver playwright-core @confluentinc/schemaregistry)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
for tool in "${NPM_TOOLS[@]}"; do
  npm ls -g --depth=0 "$tool" >/dev/null 2>&1 || { echo "install-deps: npm install -g $tool"; $SUDO npm install -g --silent "$tool"; }
done
