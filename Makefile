# s2svpn — the two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip

.PHONY: run test lint fmt lock clean sandbox

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PIP) install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime  ## start web + worker + beat + sandboxes on 127.0.0.1:8000
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v 0
	$(PY) manage.py ensure_admin
	$(PY) manage.py up

sandbox: $(VENV)/.runtime  ## only the ARM and pfSense sandboxes
	$(PY) manage.py sandbox

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(VENV)/.dev lint  ## lint, Django checks and the whole pytest suite
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	# One process for the whole suite, browser tests included: the test process never open()s the
	# SQLite test database itself (tests/conftest.py, pytest_configure, says why).
	$(VENV)/bin/pytest

fmt: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

lock:  ## re-pin requirements*.txt from requirements*.in
	$(PIP) install -q pip-tools
	$(VENV)/bin/pip-compile -q --strip-extras -o requirements.txt requirements.in
	$(VENV)/bin/pip-compile -q --strip-extras -o requirements-dev.txt requirements.in requirements-dev.in

clean:
	rm -rf $(VENV) var artifacts
