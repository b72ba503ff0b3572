#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image (Ubuntu 22.04 base).
# It installs Python 3.11 and the course's pinned environment from requirements.lock.
set -euo pipefail
SOURCE=/autograder/source
apt-get update -q
apt-get install -y -q software-properties-common
if ! apt-get install -y -q python3.11 python3.11-venv; then
    add-apt-repository -y ppa:deadsnakes/ppa && apt-get update -q
    apt-get install -y -q python3.11 python3.11-venv
fi
python3.11 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --quiet --upgrade pip
/autograder/venv/bin/python -m pip install --quiet --no-deps -r "$SOURCE/requirements.lock"
# The course package is used in place (no build step), as in `make setup`.
/autograder/venv/bin/python -c "import site; open(site.getsitepackages()[0] + '/nf_course.pth', 'w').write('$SOURCE\n')"
# Warm the caches so the first submission does not pay for them.
/autograder/venv/bin/python -c "import tensorflow, tensorflow_probability, tf_keras, matplotlib.pyplot"
