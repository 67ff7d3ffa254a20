# vamo: the two set-up commands are `make serve` and `make test` (see README.md);
# `make bench` measures throughput (bench/README.md; options: make bench ARGS="--scale 1000");
# `make e2e` has real Firefox ESR and Thunderbird update an add-on through vamo.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve test bench e2e prerequisites clean

# The virtual environment, rebuilt when the packaging changes. meinheld is
# installed first, built from source without greenlet: its published metadata
# pins greenlet<0.5, which does not build on Python 3.11, and the build
# without greenlet is also twice as fast (docs/decisions.md). Its source gets
# patches/meinheld-1.0.2.patch first (crashes on hostile requests; the patch
# file says what it changes).
MEINHELD_SRC := build/meinheld/meinheld-1.0.2

$(VENV)/.installed: setup.cfg pyproject.toml scripts/prerequisites patches/meinheld-1.0.2.patch
	scripts/prerequisites build
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	rm -rf build/meinheld
	$(BIN)/pip download --quiet --disable-pip-version-check --no-cache-dir --no-deps \
		--no-binary :all: --dest build/meinheld meinheld==1.0.2
	tar -xzf build/meinheld/meinheld-1.0.2.tar.gz -C build/meinheld
	patch --quiet --forward -p1 -d $(MEINHELD_SRC) < patches/meinheld-1.0.2.patch
	MEINHELD_NOGREEN=1 $(BIN)/pip install --quiet --disable-pip-version-check \
		--no-cache-dir --force-reinstall --no-deps ./$(MEINHELD_SRC)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[serve,tests]'
	touch $@

serve: $(VENV)/.installed
	$(BIN)/vamo serve

test: $(VENV)/.installed
	scripts/prerequisites mariadb
	$(BIN)/pytest

# The bench extra (matplotlib, for the scale report's plot) goes into the same
# venv; wrk and MariaDB are Debian packages.
$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[serve,tests,bench]'
	touch $@

bench: $(VENV)/.bench-installed
	scripts/prerequisites bench
	$(BIN)/python -m bench.run $(ARGS)

# The e2e extra (marionette-driver) goes into the same venv; the clients are
# Debian packages. pytest runs only the tests marked e2e (tests/test_e2e.py).
$(VENV)/.e2e-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[serve,tests,e2e]'
	touch $@

e2e: $(VENV)/.e2e-installed
	scripts/prerequisites e2e
	$(BIN)/pytest -m e2e

clean:
	rm -rf $(VENV) var build *.egg-info
