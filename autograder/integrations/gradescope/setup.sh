#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (base image: Ubuntu 22.04). It installs
# Python 3.11 and the course's pinned environment from requirements.lock into ROOT/venv, and makes the course
# package in ROOT/source importable from it. AUTOGRADER_ROOT (default /autograder) and AUTOGRADER_SKIP_WARMUP
# exist for the test that runs this script against a simulated tree (tests/paths/test_gradescope.py).
set -euo pipefail
ROOT=${AUTOGRADER_ROOT:-/autograder}
SOURCE=$ROOT/source
VENV=$ROOT/venv
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# Ubuntu 22.04 ships Python 3.10; 3.11 comes from its universe component, else from the deadsnakes PPA.
if ! apt-get install -y -q python3.11 python3.11-venv; then
    apt-get install -y -q software-properties-common
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update -q
    apt-get install -y -q python3.11 python3.11-venv
fi
python3.11 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip || echo "setup.sh: could not upgrade pip; using the venv's own"
"$VENV/bin/python" -m pip install --quiet --no-deps -r "$SOURCE/requirements.lock"
# The course package is used in place (no build step), as in `make setup`.
"$VENV/bin/python" -c "import site, sys; open(site.getsitepackages()[0] + '/nf_course.pth', 'w').write(sys.argv[1] + '\n')" "$SOURCE"
"$VENV/bin/python" -c "import course_config; print('setup.sh: course', course_config.COURSE_ID, 'importable from', course_config.ROOT)"
# Warm the caches so the first submission does not pay for them.
if [ -z "${AUTOGRADER_SKIP_WARMUP:-}" ]; then
    TF_CPP_MIN_LOG_LEVEL=3 "$VENV/bin/python" -c "import tensorflow, tensorflow_probability, tf_keras, matplotlib.pyplot, jinja2, jsonschema, rich"
fi
