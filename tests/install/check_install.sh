#!/usr/bin/env bash
# Installs the build into a fresh prefix and uses it as a user would: the documented files are
# there, a C program links with -lascendcl and runs the weight-update flow, a C++ program builds
# a bundle with ge_ir_build.h from the installed headers alone.
#   check_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
prefix=$(mktemp -d)
work=$(mktemp -d)
trap 'rm -rf "$prefix" "$work"' EXIT

cmake --install "$build" --prefix "$prefix" > /dev/null
for f in include/acl/acl.h include/acl/acl_base.h include/acl/acl_rt.h include/acl/acl_mdl.h \
         include/ge/ge_ir_build.h include/liveweight/graph.h include/liveweight/build.h \
         lib/libliveweight.so lib/libascendcl.so bin/lw \
         lib/cmake/liveweight/liveweightConfig.cmake lib/pkgconfig/liveweight.pc; do
  [ -e "$prefix/$f" ] || { echo "missing after install: $f"; exit 1; }
done

# A sanitizer build's library needs its runtime in the programs that load it, from the compiler
# that built it (CTest passes the build's CC and CXX).
san=()
if [ -n "${LW_SANITIZE:-}" ]; then san=(-fsanitize="$LW_SANITIZE"); fi
CC=${CC:-cc} CXX=${CXX:-c++}
# clang links a C program without UBSan's C++ half (and the libstdc++ it needs) unless told.
csan=("${san[@]}") clibs=()
if [ ${#san[@]} -gt 0 ] && "$CC" --version | grep -q clang; then csan+=(-fsanitize-link-c++-runtime); clibs=(-lstdc++); fi

# The installed headers must not reach into the source tree.
"$CC" -std=c99 -Wall -Wextra -Werror "${csan[@]}" -I"$prefix/include" "$src/examples/c/weight_update.c" \
   -L"$prefix/lib" -lascendcl -lm "${clibs[@]}" -o "$work/weight_update"
"$CXX" -std=c++20 -Wall -Wextra -Werror "${san[@]}" -I"$prefix/include" "$src/examples/cpp/build_bundle.cc" \
   -L"$prefix/lib" -lliveweight -o "$work/build_bundle"

export LD_LIBRARY_PATH="$prefix/lib"
"$work/build_bundle" "$work/dense"
"$prefix/bin/lw" inspect "$work/dense.om" | grep -q "W_var"
"$prefix/bin/lw" build "$src/examples/models/digits.onnx" -o "$work/digits.om" > /dev/null
"$work/weight_update" "$work/digits.om" "$src/examples/models"
echo "install check passed"
