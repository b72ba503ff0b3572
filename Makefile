# The course package's commands. Each target bootstraps .venv/ from requirements.lock on first use.
# Quick start on a fresh clone:  make demo  &&  make test
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The course's assignments, read from course_config.py (the one place that lists them), with the venv's Python
# once it exists. Without a Python that can read them, stop here with the reason (not an empty loop later).
BOOT_PY := $(if $(wildcard $(PY)),$(PY),$(PYTHON))
ASSIGNMENTS := $(shell $(BOOT_PY) -c "import course_config; print(*course_config.ASSIGNMENTS)" 2>/dev/null)
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),default)),)
ifeq ($(strip $(ASSIGNMENTS)),)
$(error cannot read the assignments from course_config.py with "$(BOOT_PY)": $(if $(shell command -v $(BOOT_PY) 2>/dev/null),it fails to import course_config.py,it is not installed); install Python 3.11 or run make PYTHON=/path/to/python3.11)
endif
endif
# nbgrader reads the course's single config file through this flag (0.9.6 has no --config alias).
NBGRADER := $(VENV)/bin/nbgrader
NBCONFIG := --JupyterApp.config_file=course_config.py
# Quiet TensorFlow's C++ logging in every command we run.
export TF_CPP_MIN_LOG_LEVEL := 3
export TF_ENABLE_ONEDNN_OPTS := 0
export PYTHONDONTWRITEBYTECODE := 1
# nbgrader shells out to tools of its own environment (alembic), so the venv goes first on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup release reference figures normalise demo test bench gradescope container-test clean venv-owner

# The venv's nf_course.pth makes one checkout importable (autograder, course_config) from every kernel of the venv,
# so a venv belongs to the checkout its nf_course.pth names. A .venv shared with or linked to another checkout is
# never written into, and never used: every target that needs the venv stops here, naming both checkouts.
OWNER_PY := import site, pathlib; p = pathlib.Path(site.getsitepackages()[0], 'nf_course.pth'); print(p.read_text().strip() if p.is_file() else '')
venv-owner:
	@test -x $(PY) || exit 0; owner="$$($(PY) -c "$(OWNER_PY)")" || exit 1; \
	if [ -n "$$owner" ] && [ "$$(realpath -m "$$owner")" != "$$(realpath -m "$(CURDIR)")" ]; then \
	  echo "make: $(VENV) belongs to the checkout $$owner (its nf_course.pth imports autograder from there), not to $(CURDIR): this checkout neither writes into nor uses another checkout's venv; give it its own (if $(VENV) is a link: rm $(VENV), then make setup)" >&2; \
	  exit 1; \
	fi

$(STAMP): requirements.lock pyproject.toml | venv-owner
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	@# Make the repo importable (autograder, course_config) from any kernel of this venv, without a build step.
	$(PY) -c "import site; open(site.getsitepackages()[0] + '/nf_course.pth', 'w').write('$(CURDIR)\n')"
	@touch $@

setup: $(STAMP)

# Regenerate the student release and the instructor solutions from source/ through nbgrader.
release: $(STAMP)
	for a in $(ASSIGNMENTS); do \
	  $(NBGRADER) generate_assignment $$a $(NBCONFIG) --force --log-level=WARN && \
	  $(NBGRADER) generate_solution $$a $(NBCONFIG) --force --log-level=WARN || exit 1; \
	done
	$(PY) -m autograder normalise release solutions
	@# Students get no course_config.py: ship the settings nbgrader validate needs (its timeout) with each release.
	$(PY) -m autograder student-config --release
	@# The points tables of the instructors' guide come from the source notebooks' metadata.
	$(PY) -m autograder validate --markdown docs/instructors.md

# Rebuild the hidden checks' reference values from solutions/ (the only way they change).
reference: $(STAMP)
	$(PY) -m autograder reference

# Redraw the notes' figures (PNGs are committed; rerun after editing source/make_figures.py).
figures: $(STAMP)
	$(PY) source/make_figures.py

# Strip outputs and execution counts, add missing cell ids, and validate the source notebooks.
normalise: $(STAMP)
	$(PY) -m autograder normalise source

# The main job: build the release, validate it, then grade the bundled example submissions.
demo: release
	$(PY) -m autograder validate
	$(PY) -m autograder demo

test: $(STAMP)
	$(PY) -m pytest -q

# Benchmarks, measured side by side in one run: grading throughput against nbgrader autograde, marginal cost
# per submission, memory, and the notebook's flow against tfb.RealNVP. Writes bench/results.json (~10 min).
bench: release
	$(PY) -m bench

# One Gradescope autograder bundle per assignment, dist/gradescope_<assignment>.zip, each built from what is committed
# (git archive of HEAD), never from the working tree: an uncommitted edit or new file cannot slip in. Each bundle
# names its assignment in its ASSIGNMENT file (/autograder/source/ASSIGNMENT on Gradescope), so it grades that notebook only. It refuses while bundled files have
# uncommitted changes, since those would be silently left out; ALLOW_DIRTY=1 builds HEAD anyway. Needs git and a
# Python, not the venv. solutions/ goes in because grading refuses reference values it cannot check against the
# solutions they were built from (reference.stale); source/ already holds the same solutions.
BUNDLED := autograder source release solutions course_config.py requirements.lock
ZIP_PY := $(if $(wildcard $(PY)),$(CURDIR)/$(PY),$(PYTHON))
gradescope:
	@dirty="$$(git status --porcelain --untracked-files=all -- $(BUNDLED))"; \
	if [ -n "$$dirty" ]; then \
	  echo "$$dirty" | sed 's/^/  /'; \
	  if [ -z "$(ALLOW_DIRTY)" ]; then \
	    echo "make gradescope: the files above have uncommitted changes; the bundle is built from HEAD only, so commit them (or run make gradescope ALLOW_DIRTY=1 to bundle HEAD without them)"; exit 1; \
	  fi; \
	  echo "make gradescope: bundling HEAD $$(git rev-parse --short HEAD) without the uncommitted changes above"; \
	fi
	@for a in $(ASSIGNMENTS); do \
	  rm -rf dist/gradescope_$$a dist/gradescope_$$a.zip && mkdir -p dist/gradescope_$$a && \
	  git archive --format=tar HEAD $(BUNDLED) | tar -x -C dist/gradescope_$$a && \
	  cp -p dist/gradescope_$$a/autograder/integrations/gradescope/setup.sh dist/gradescope_$$a/autograder/integrations/gradescope/run_autograder dist/gradescope_$$a/ && \
	  git rev-parse HEAD > dist/gradescope_$$a/COMMIT && echo $$a > dist/gradescope_$$a/ASSIGNMENT && \
	  (cd dist/gradescope_$$a && "$(ZIP_PY)" -c "import os, zipfile; z = zipfile.ZipFile('../gradescope_$$a.zip', 'w', zipfile.ZIP_DEFLATED); [z.write(os.path.join(d, f)) for d, _, fs in sorted(os.walk('.')) for f in sorted(fs)]; z.close()") && \
	  echo "wrote dist/gradescope_$$a.zip (grades $$a.ipynb) from commit $$(git rev-parse --short HEAD)" || exit 1; \
	done

# The Gradescope bundle graded in real containers, as Gradescope runs it (docs/security.md): a bookworm image
# (cached), setup.sh run once into a grading image, then run_autograder on four submissions in a fresh container
# each, under podman's default seccomp profile, that profile without Landlock, and --memory 768m; every score must
# equal the host's. Needs root, podman, runc and debootstrap; about 10 minutes. Outside make test (CI's budget).
# CONTAINER_TEST_ARGS passes options, e.g. "--lock /tmp/heavy.lock" or "--settings 768m".
container-test: $(STAMP) gradescope
	$(PY) packaging/container/container_test.py $(CONTAINER_TEST_ARGS)

clean:
	rm -rf gradebook.db submitted autograded feedback downloaded submitted_graded .pytest_cache
