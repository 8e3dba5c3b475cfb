#!/usr/bin/env bash
# Regenerates tone.opus, the synthetic audio the Go media client publishes:
# one second of a 440 Hz sine at -12 dBFS, mono, 48 kHz, encoded to Opus in
# 20 ms frames. Needs python3 and opusenc (Debian: apt-get install opus-tools).
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp/tone.wav" <<'PY'
import math, struct, sys, wave
rate = 48000
w = wave.open(sys.argv[1], 'wb')
w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
w.writeframes(b''.join(struct.pack('<h', int(0.25 * 32767 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(rate)))
w.close()
PY
opusenc --quiet --bitrate 24 --framesize 20 --comp 10 "$tmp/tone.wav" tone.opus
