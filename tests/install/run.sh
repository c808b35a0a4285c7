#!/bin/sh
# Installs the build into a temporary prefix, moves the installed tree
# elsewhere (so nothing may rely on the configured prefix), then builds and
# runs a program outside the tree against it four ways: pkg-config shared
# and static, CMake Soda::soda and Soda::soda_static. Also checks that
# both libraries export only soda_* symbols.
# usage: run.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
tmp=$(mktemp -d /tmp/soda-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

cmake --install "$build" --prefix "$tmp/configured" >/dev/null
mv "$tmp/configured" "$tmp/moved"
prefix=$tmp/moved
pcdir=$(dirname "$(find "$prefix" -name libsoda.pc | head -n 1)")
libdir=$(dirname "$pcdir")
test -f "$libdir/libsoda.a"

fail=0
bad=$(nm -g --defined-only "$libdir/libsoda.a" | awk 'NF == 3 && $2 ~ /[A-Z]/ && $3 !~ /^soda_/ {print $3}' | head)
if [ -n "$bad" ]; then
	echo "libsoda.a exports symbols other than soda_*: $bad"
	fail=1
fi
bad=$(nm -D --defined-only "$libdir/libsoda.so" | awk 'NF == 3 && $2 ~ /[A-Z]/ && $3 !~ /^soda_/ && $3 !~ /^LIBSODA_/ {print $3}' | head)
if [ -n "$bad" ]; then
	echo "libsoda.so exports symbols other than soda_*: $bad"
	fail=1
fi

cp "$src/tests/install/consumer.c" "$tmp/"
export PKG_CONFIG_PATH="$pcdir"
got=$(pkg-config --variable=prefix libsoda)
if [ "$(cd "$got" && pwd -P)" != "$(cd "$prefix" && pwd -P)" ]; then
	echo "pkg-config's prefix is $got, not the moved install $prefix"
	fail=1
fi

cc -o "$tmp/pc-shared" "$tmp/consumer.c" $(pkg-config --cflags --libs libsoda)
LD_LIBRARY_PATH="$libdir" "$tmp/pc-shared" || { echo "pkg-config shared: failed"; fail=1; }
cc -o "$tmp/pc-static" "$tmp/consumer.c" $(pkg-config --cflags libsoda) \
	"$libdir/libsoda.a" $(pkg-config --static --libs libsoda | sed 's/-lsoda//')
if ldd "$tmp/pc-static" | grep -q libsoda; then
	echo "pkg-config static: the program still loads libsoda.so"
	fail=1
fi
"$tmp/pc-static" || { echo "pkg-config static: failed"; fail=1; }

mkdir "$tmp/cm"
cp "$src/tests/install/CMakeLists.consumer.txt" "$tmp/cm/CMakeLists.txt"
cp "$tmp/consumer.c" "$tmp/cm/"
if cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/cm.log" 2>&1 &&
   make -C "$tmp/cm/build" >>"$tmp/cm.log" 2>&1; then
	LD_LIBRARY_PATH="$libdir" "$tmp/cm/build/consumer-shared" || { echo "cmake shared: failed"; fail=1; }
	"$tmp/cm/build/consumer-static" || { echo "cmake static: failed"; fail=1; }
else
	cat "$tmp/cm.log"
	echo "cmake: the consumer did not build"
	fail=1
fi
# The moved install finds its own soda-agent and soda-monitor, with no
# environment variables: an image build copies the agent in (root only:
# the uml backend runs as root).
if [ "$(id -u)" = 0 ]; then
	if env -u SODA_MONITOR -u SODA_AGENT LD_LIBRARY_PATH="$libdir" \
		"$prefix/bin/sodactl" --state-dir "$tmp/state" image build busybox >"$tmp/img.log" 2>&1; then
		echo "install: the moved install's sodactl found its soda-agent"
	else
		cat "$tmp/img.log"
		echo "install: the moved install's sodactl did not find its helpers"
		fail=1
	fi
else
	echo "install: not root, the moved install's helpers not tried"
fi
[ "$fail" = 0 ] && echo "install: 4 ways built and ran against a moved install"
exit "$fail"
