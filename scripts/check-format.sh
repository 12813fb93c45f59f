#!/usr/bin/env bash
# Fails when any tracked C/C++ file is not formatted per .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.cc' '*.hpp' '*.c')
((${#files[@]})) || exit 0
clang-format --dry-run -Werror "${files[@]}"
echo "format: ${#files[@]} files ok"
