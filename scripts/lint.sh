#!/usr/bin/env bash
# Lint (ruff: pyflakes, pycodestyle, import order, bugbear, pyupgrade, no print in the library)
# and type-check (mypy) the library; configuration in pyproject.toml ([tool.ruff], [tool.mypy]).
# Run by scripts/test.sh before the whole test suite (CI: .ci/run); alone: bash scripts/lint.sh
#
# mypy and the package layout: the package semlink maps semlink.phy -> phy/, semlink.semantic
# -> semantic/, semlink.links -> links/ (pyproject [tool.setuptools] package-dir), which mypy
# cannot read. It checks a tree of symbolic links laid out as installed (build/typecheck/semlink),
# and its messages are turned back into repository paths.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${SEMLINK_PYTHON:-.venv/bin/python}

status=0
echo "lint: ruff check" >&2
"$PY" -m ruff check --no-fix . || status=$?

tree=build/typecheck
rm -rf "$tree"
mkdir -p "$tree/semlink"
for entry in semlink/*; do
  case "$(basename "$entry")" in __pycache__) continue ;; esac
  ln -s "$PWD/$entry" "$tree/semlink/"
done
# semlink.X -> X/ for every top-level folder pyproject's package-dir maps (phy, semantic, links)
for pkg in $("$PY" -c "
import tomllib
dirs = tomllib.load(open('pyproject.toml', 'rb'))['tool']['setuptools']['package-dir']
print(' '.join(d for n, d in dirs.items() if n.count('.') == 1 and n == 'semlink.' + d))"); do
  ln -s "$PWD/$pkg" "$tree/semlink/$pkg"
done

echo "lint: mypy (semlink, as installed)" >&2
( cd "$tree" && "$OLDPWD/$PY" -m mypy --config-file "$OLDPWD/pyproject.toml" \
    --cache-dir "$OLDPWD/build/mypy_cache" -p semlink ) > "$tree/mypy.txt" 2>&1 || status=$?
# semlink/phy/x.py -> phy/x.py, semlink/semantic/... -> semantic/..., semlink/links/... -> links/...
sed -E 's#^semlink/(phy|semantic|links)/#\1/#' "$tree/mypy.txt"
exit "$status"
