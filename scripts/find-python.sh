#!/usr/bin/env bash
# Print the path of a Python >= 3.12 (Django 6 needs it): $PYTHON when set (production: the optimised
# build of scripts/build-python.sh), else python3.13 / python3.12 / python3 on PATH, else one installed
# under pyenv. Exit 1 with a clear message when there is none.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
if [ -n "${PYTHON:-}" ]; then
  if ok "$PYTHON"; then command -v "$PYTHON"; exit 0; fi
  echo "error: PYTHON=$PYTHON is not a Python 3.12 or newer." >&2
  exit 1
fi
for candidate in python3.13 python3.12 python3; do
  if path=$(command -v "$candidate" 2>/dev/null) && ok "$path"; then echo "$path"; exit 0; fi
done
pyenv_root=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}
for path in $(ls -d "$pyenv_root"/versions/3.1[3-9]*/bin/python3 "$pyenv_root"/versions/3.12*/bin/python3 2>/dev/null); do
  if ok "$path"; then echo "$path"; exit 0; fi
done
echo "error: Python 3.12 or newer is required (Django 6) and none was found." >&2
echo "Install python3.12 (or newer), or put one under pyenv, then run make again." >&2
exit 1
