#!/usr/bin/env bash
# Installs the pinned test tooling into git-ignored folders:
#
#   <repo>/.tools/venv           Python venv: moto[server], aws-sam-cli, cfn-lint
#                                (infra/tools/requirements.txt + constraints.txt)
#   <repo>/infra/tools/node_modules
#                                aws-ses-v2-local, axe-core (infra/tools/package.json + package-lock.json)
#   <repo>/.tools/bin            aws-lambda-rie, built from the `tool` directive in go.mod
#
# Idempotent and fast when up to date: each tool has a stamp file in
# .tools/stamps holding a hash of its pin files (and of the toolchain that
# built it); a tool is reinstalled only when that hash changes or its
# binaries are missing. Run from anywhere. Install logs go to .tools/logs.
#
# Requires python3 (>= 3.10) with the venv module, node + npm, and go on PATH.
# Set PYTHON=/path/to/python3 to pick another interpreter for the venv.
#
# Updating pins:
#   Python: edit requirements.txt, then regenerate constraints.txt from a fresh venv:
#     python3 -m venv /tmp/v && /tmp/v/bin/pip install -r infra/tools/requirements.txt \
#       && /tmp/v/bin/pip freeze   # paste below the header of constraints.txt
#   npm:    edit package.json, then: npm install --package-lock-only --prefix infra/tools
#   Go:     go get -tool PACKAGE@VERSION (go.mod pins it; staticcheck runs as `go tool staticcheck`).
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$script_dir/../.." && pwd)"
cd "$root"

tools_dir="$root/.tools"
stamps="$tools_dir/stamps"
logs="$tools_dir/logs"
venv="$tools_dir/venv"
gobin="$tools_dir/bin"
pins="$root/infra/tools"

mkdir -p "$stamps" "$logs" "$gobin"

# Bump a recipe string to force a reinstall of that tool on every machine.
recipe_venv=1
recipe_npm=1
recipe_go=1

die() {
	echo "install.sh: ERROR: $*" >&2
	exit 1
}

need() {
	command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH; it is needed to $2"
}

# One writer at a time (e.g. two `make` invocations racing).
if command -v flock >/dev/null 2>&1; then
	exec 9>"$tools_dir/install.lock"
	flock 9
fi

hash_of() { # hash_of STRING FILE... -> sha256 of the string and the files' contents
	local s="$1"
	shift
	{
		printf '%s\n' "$s"
		if (($# > 0)); then cat -- "$@"; fi
	} | sha256sum | cut -d' ' -f1
}

up_to_date() { # up_to_date NAME HASH
	[[ -f "$stamps/$1" && "$(<"$stamps/$1")" == "$2" ]]
}

# run_logged NAME LABEL CMD... : runs CMD with output to .tools/logs/NAME.log;
# on failure prints the log's tail and exits non-zero.
run_logged() {
	local name="$1" label="$2"
	shift 2
	local log="$logs/$name.log"
	local rc=0
	"$@" >>"$log" 2>&1 || rc=$?
	if ((rc != 0)); then
		{
			echo "install.sh: ERROR: $label failed (exit $rc): $*"
			echo "---- last 40 lines of $log ----"
			tail -n 40 "$log"
			echo "----"
		} >&2
		exit 1
	fi
}

# --- Python venv: moto[server], aws-sam-cli, cfn-lint -----------------------
install_venv() {
	local python="${PYTHON:-python3}"
	local h
	h="$(hash_of "venv:$recipe_venv" "$pins/requirements.txt" "$pins/constraints.txt")"
	local pkgs
	pkgs="$(grep -E '^[a-zA-Z]' "$pins/requirements.txt" | tr '\n' ' ' | sed 's/ $//')"
	local label="python venv (.tools/venv: $pkgs)"
	if up_to_date venv "$h" &&
		"$venv/bin/python" -c '' 2>/dev/null &&
		[[ -x "$venv/bin/moto_server" && -x "$venv/bin/sam" && -x "$venv/bin/cfn-lint" ]]; then
		echo "tools: $label: up to date"
		return
	fi
	echo "tools: $label: installing (log: .tools/logs/venv.log) ..."
	need "$python" "create the Python venv (set PYTHON=/path/to/python3 to choose one)"
	"$python" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null ||
		die "$python is not Python >= 3.10 with the venv module ($("$python" --version 2>&1)); aws-sam-cli and moto need 3.10+"
	local start=$SECONDS
	rm -f "$stamps/venv"
	: >"$logs/venv.log"
	rm -rf "$venv"
	run_logged venv "creating venv with $python" "$python" -m venv "$venv"
	run_logged venv "pip install" env PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 \
		"$venv/bin/python" -m pip install \
		-r "$pins/requirements.txt" -c "$pins/constraints.txt"
	run_logged venv "pip check" "$venv/bin/python" -m pip check
	run_logged venv "moto_server --help" "$venv/bin/moto_server" --help
	run_logged venv "sam --version" env SAM_CLI_TELEMETRY=0 "$venv/bin/sam" --version
	run_logged venv "cfn-lint --version" "$venv/bin/cfn-lint" --version
	echo "$h" >"$stamps/venv"
	echo "tools: $label: installed in $((SECONDS - start))s"
}

# --- npm: aws-ses-v2-local, axe-core (the browser tests' accessibility checks) ---
install_npm() {
	need node "run aws-ses-v2-local"
	need npm "install aws-ses-v2-local and axe-core"
	local node_major
	node_major="$(node -p 'process.versions.node.split(".")[0]')"
	local h
	h="$(hash_of "npm:$recipe_npm:node$node_major" "$pins/package.json" "$pins/package-lock.json")"
	local cli="$pins/node_modules/aws-ses-v2-local/dist/cli.js"
	local axe="$pins/node_modules/axe-core/axe.min.js"
	local version axe_version
	version="$(sed -n 's/.*"aws-ses-v2-local": *"\([^"]*\)".*/\1/p' "$pins/package.json" | head -n1)"
	axe_version="$(sed -n 's/.*"axe-core": *"\([^"]*\)".*/\1/p' "$pins/package.json" | head -n1)"
	local label="npm (infra/tools/node_modules: aws-ses-v2-local $version, axe-core $axe_version)"
	if up_to_date npm "$h" && [[ -f "$cli" && -f "$axe" ]]; then
		echo "tools: $label: up to date"
		return
	fi
	echo "tools: $label: installing (log: .tools/logs/npm.log) ..."
	local start=$SECONDS
	rm -f "$stamps/npm"
	: >"$logs/npm.log"
	run_logged npm "npm ci" npm ci --prefix "$pins" --no-audit --no-fund --ignore-scripts
	[[ -f "$cli" ]] || die "npm ci succeeded but $cli is missing (see .tools/logs/npm.log)"
	[[ -f "$axe" ]] || die "npm ci succeeded but $axe is missing (see .tools/logs/npm.log)"
	run_logged npm "aws-ses-v2-local --version" node "$cli" --version
	echo "$h" >"$stamps/npm"
	echo "tools: $label: installed in $((SECONDS - start))s"
}

# --- Go tools: aws-lambda-rie, staticcheck -------------------------------------
# Pinned by the `tool` directives in go.mod (versions in go.mod/go.sum).
# staticcheck runs as `go tool staticcheck`; the runtime emulator is also
# built into .tools/bin because the tests start it as a separate process.
install_go_tools() {
	need go "build the Go tools"
	local pkg="github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	local bin="aws-lambda-rie" h start version
	version="$(go list -m -f '{{.Version}}' github.com/aws/aws-lambda-runtime-interface-emulator)"
	h="$(hash_of "go:$recipe_go:$(go env GOVERSION)" "$root/go.mod" "$root/go.sum")"
	if up_to_date "go-$bin" "$h" && [[ -x "$gobin/$bin" ]]; then
		echo "tools: $bin (.tools/bin, $version): up to date"
		return
	fi
	echo "tools: $bin (.tools/bin, $version): building (log: .tools/logs/go-$bin.log) ..."
	start=$SECONDS
	rm -f "$stamps/go-$bin"
	: >"$logs/go-$bin.log"
	run_logged "go-$bin" "go build $pkg" env CGO_ENABLED=0 go build -o "$gobin/$bin" "$pkg"
	run_logged "go-staticcheck" "go tool staticcheck -version" go tool staticcheck -version
	echo "$h" >"$stamps/go-$bin"
	echo "tools: $bin (.tools/bin, $version): built in $((SECONDS - start))s"
}

# install_browser: headless Chromium for the browser tests, from Debian's
# package (no browser download by a test tool). Tested with chromium 156.
# Needs root and apt-get, as on the CI machines; elsewhere install Chromium
# yourself or set CHROMIUM to its path.
install_browser() {
	if [[ -n "${CHROMIUM:-}" ]] || command -v chromium >/dev/null 2>&1; then
		echo "tools: chromium ($(command -v chromium || echo "$CHROMIUM")): present"
		return
	fi
	command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]] ||
		die "chromium is missing and cannot be installed here (needs root and apt-get): install Chromium or set CHROMIUM"
	echo "tools: chromium (Debian package): installing (log: .tools/logs/chromium.log) ..."
	local start=$SECONDS
	: >"$logs/chromium.log"
	run_logged chromium "apt-get update" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	run_logged chromium "apt-get install chromium" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
	command -v chromium >/dev/null 2>&1 || die "apt-get installed chromium but it is not on PATH"
	echo "tools: chromium: installed in $((SECONDS - start))s"
}

install_venv
install_npm
install_go_tools
install_browser
