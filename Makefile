# hisguard: two commands do everything on a fresh machine (as root):
#   make demo   install everything, bring the lab up, run the main job, print where the result is
#   make test   install everything, lint, unit tests, lab integration tests, every molecule scenario
SHELL := /bin/bash
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
FAKE_SWITCHES := fake-switches==1.5.0
export PATH := $(BIN):$(PATH)
export CONTAINERS_CONF := $(CURDIR)/src/hisguard/lab/containers.conf
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
SCENARIOS := $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml)))

.PHONY: setup system demo test lint unit lab-up integration molecule bench lab-down clean

setup: system $(VENV)/.installed
	@# ansible-core wheels for workstations that run ansible-pull offline (and for its lab test)
	@bash scripts/build-wheelhouse.sh

system:
	@bash scripts/install-system-packages.sh

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,lab]'
	# fake-switches pins Twisted<17 (no Python 3.11 build): its real needs come from the `lab` extra.
	$(BIN)/pip install -q --no-deps '$(FAKE_SWITCHES)'
	touch $@

demo: setup
	hisguard lab up
	hisguard audit
	@echo "The compliance report (HTML, zh-CN) is the path printed on the 'report:' line above;"
	@echo "English: hisguard report --lang en.  History: hisguard history."

# The lab tests and the molecule scenarios use separate containers and networks: they run side by side,
# each target's output printed whole when it ends.
test: setup lint unit
	$(MAKE) --no-print-directory -j2 --output-sync=target integration molecule

lint: setup
	ruff check .
	ruff format --check .
	# A private HOME: molecule installs a copy of this collection into ~/.ansible/collections, and
	# ansible-lint would prefer that (possibly older) copy to the checkout.
	HOME=$(CURDIR)/var/lint-home ansible-lint --profile production --offline
	ansible-galaxy collection build --force --output-path var/build >/dev/null

unit: setup
	pytest -q tests/unit

lab-up: setup
	hisguard lab up

integration: lab-up
	pytest -q tests/integration

# The scenarios run on the lab image, which `lab up` builds.
molecule: lab-up
	@set -e; for s in $(SCENARIOS); do echo "== molecule scenario $$s"; molecule test -s $$s; done

bench: lab-up
	@ls scripts/bench/*.py >/dev/null 2>&1 && for b in scripts/bench/*.py; do python $$b; done || echo "no benchmarks yet"

lab-down: setup
	hisguard lab down

clean: lab-down
	rm -rf var/runs var/build
