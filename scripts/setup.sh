#!/usr/bin/env bash
# Set up sigdetect on a fresh Debian / Ubuntu / Raspberry Pi OS machine: system libraries, then the package.
# Usage: scripts/setup.sh [EXTRAS]   (EXTRAS defaults to "capture"; the tests use "capture,train,dev")
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-capture}
python=${PYTHON:-python3}

wanted=(libsndfile1)                                         # soundfile reads audio files through libsndfile
[[ ,$extras, == *,capture,* ]] && wanted+=(portaudio19-dev gcc python3-dev)  # PyAudio compiles against PortAudio
[[ ,$extras, == *,train,* ]] && wanted+=(espeak-ng flite fluidsynth sox)  # speech, soundfont rendering
[[ ,$extras, == *,dev,* ]] && wanted+=(mosquitto)  # the tests run a private MQTT broker process
missing=()
for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "installing system packages: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
"$python" -m pip install -q --disable-pip-version-check --root-user-action=ignore -e ".[${extras}]"
