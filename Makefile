# lifeboat.k8s — one command for everything: `make test`. `make demo` for the drill.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export LIFEBOAT_CACHE ?= $(HOME)/.cache/lifeboat
# Outside the work tree: inside a git repo ansible-test only sees tracked files.
BUILD := $(LIFEBOAT_CACHE)/build-$(shell echo $(CURDIR) | sha256sum | cut -c1-8)
COLLECTION := $(BUILD)/ansible_collections/lifeboat/k8s
TESTBED := tests/testbed/testbed
VENV = $(shell hack/venv.sh)
# ansible-test downloads get-pip from a host we cannot reach; give it a local stand-in (2.16 and 2.17 ask
# for pip 23.1.2, 2.18 and 2.19 for 24.2).
GET_PIP := $(HOME)/.ansible/test/cache/get_pip_23_1_2.py $(HOME)/.ansible/test/cache/get_pip_24_2.py \
  $(HOME)/.ansible/test/cache/get_pip_25_2.py
# requires_ansible claims these too; the dev venv has 2.19. Each runs sanity in a venv of its own, on the Python
# given after the colon (2.20 and later need 3.12 or later; hack/python.sh finds pyenv's).
OTHER_CORES := 2.16:3.11 2.17:3.11 2.18:3.11 2.20:3.12 2.21:3.13
# The integration targets `make test` runs: all but role_dr_drill, the slowest (about 4 minutes), which has its own
# target, `make integration-drill`; the drill playbook itself runs in the system suite (a Velero backup, the DR
# cluster, the data mover's copies). A cold `make test` took 60 minutes with it.
TEST_INTEGRATION := --exclude role_dr_drill

.PHONY: test venv collection sanity sanity-all packaging lint units units-all integration integration-drill system testbed-up testbed-down demo clean

test: ## everything: venv, sanity, lint, units, test bed up, system + integration tests, test bed down, host as before
	@$(MAKE) --no-print-directory venv
	@# The bed's Go builds (most of a cold run) overlap the static checks, which use about one core.
	@hack/prebuild.sh start
	@status=0; $(MAKE) --no-print-directory sanity-all lint units-all packaging || status=$$?; \
	  hack/prebuild.sh wait || true; exit $$status
	@# The baseline is the host without a bed: a bed left by an interrupted run would otherwise count as the
	@# host's own, and its removal (testbed up restarts a partial bed) would read as damage.
	@tests/testbed/testbed down >/dev/null
	@python3 tests/testbed/hoststate.py save $(LIFEBOAT_CACHE)/host-before-testbed.json
	@$(MAKE) --no-print-directory testbed-up
	@status=0; $(MAKE) --no-print-directory system integration TARGETS="$(TEST_INTEGRATION)" || status=$$?; \
	  $(MAKE) --no-print-directory testbed-down || { [ $$status -ne 0 ] || status=1; }; \
	  python3 tests/testbed/hoststate.py check $(LIFEBOAT_CACHE)/host-before-testbed.json || { [ $$status -ne 0 ] || status=1; }; \
	  exit $$status

venv:
	@echo "venv: $(VENV)"

collection: ## the tree ansible-test needs: build/ansible_collections/lifeboat/k8s
	@rm -rf $(COLLECTION) && mkdir -p $(COLLECTION)
	@tar -c --exclude=./.git --exclude=./build --exclude=./tests/output --exclude=./tests/testbed/go \
	  --exclude=__pycache__ --exclude=.pytest_cache . | tar -x -C $(COLLECTION)

$(GET_PIP): hack/get_pip_offline.py
	@mkdir -p $(dir $@) && cp $< $@

sanity: collection $(GET_PIP) ## ansible-test sanity on ansible-core 2.19, with shellcheck
	cd $(COLLECTION) && PATH=$(VENV)/bin:$$PATH ansible-test sanity --python 3.11 --color no

sanity-all: sanity ## and on ansible-core 2.16-2.18 (Python 3.11), 2.20 (3.12) and 2.21 (3.13)
	@for spec in $(OTHER_CORES); do \
	  core=$${spec%%:*}; py=$${spec##*:}; python=$$(hack/python.sh $$py) || exit 1; \
	  venv=$$(LIFEBOAT_PYTHON=$$python hack/venv.sh tests/venvs/core-$$core.txt) || exit 1; \
	  echo "sanity: ansible-core $$core on Python $$py"; \
	  (cd $(COLLECTION) && PATH=$$venv/bin:$$PATH ansible-test sanity --python $$py --color no) || exit 1; \
	done

packaging: ## the Galaxy tarball: what it holds, galaxy-importer on it, ansible-builder on it installed
	LIFEBOAT_GALAXY_VENV=$$(hack/venv.sh tests/venvs/galaxy.txt) $(VENV)/bin/pytest -q -p no:cacheprovider tests/packaging

lint: collection ## ansible-lint (production), the changelog, the type checker on plugins/module_utils, antsibull-docs lint, the docsite
	cd $(COLLECTION) && ANSIBLE_COLLECTIONS_PATH=$(BUILD) PATH=$(VENV)/bin:$$PATH ansible-lint --profile production --offline -q
	hack/typecheck.sh $(BUILD)
	hack/docslint.sh $(BUILD)
	hack/docsite.sh $(BUILD)
	cd $(COLLECTION) && $(VENV)/bin/antsibull-changelog lint

units: collection ## unit tests, and their line coverage of plugins/module_utils (at least 80 %)
	cd $(COLLECTION) && PYTHONPATH=$(BUILD) $(VENV)/bin/pytest -q tests/unit \
	  --cov=plugins/module_utils --cov-report=term:skip-covered --cov-fail-under=80

units-all: units ## and on Python 3.13 (pyenv's, or LIFEBOAT_PYTHON_3_13), in a venv of its own
	python=$$(hack/python.sh 3.13) && venv=$$(LIFEBOAT_PYTHON=$$python hack/venv.sh tests/venvs/units.txt) && \
	  cd $(COLLECTION) && PYTHONPATH=$(BUILD) $$venv/bin/pytest -q -n 2 tests/unit

testbed-up: ## the bed, and Velero as a peer with its node-agent (LIFEBOAT_VELERO_PEER=0 leaves it out; its cold build is ~5 min)
	$(TESTBED) up
	@if [ "$${LIFEBOAT_VELERO_PEER:-1}" != 0 ]; then $(TESTBED) velero && $(TESTBED) velero-node-agent; fi

testbed-down:
	$(TESTBED) down

system: collection ## the bed's storage path test, faults, auth, bad input, DR, the drill through ansible-runner (ansible-core 2.21, Python 3.13)
	@# The bed's env puts the dev venv's tools (kubectl, aws) on PATH; the suite's ansible goes before them.
	suite=$$(hack/suite-venv.sh) && eval "$$($(TESTBED) env)" && export PATH=$$suite/bin:$$PATH && \
	  ansible --version | head -1 && python --version && \
	  ANSIBLE_COLLECTIONS_PATH=$(BUILD) pytest -q -p no:cacheprovider tests/system

integration: collection ## TARGETS="volume_snapshot ..." to run some (ansible-core 2.21, Python 3.13)
	hack/integration.sh $(COLLECTION) $(TARGETS)

integration-drill: ## the role_dr_drill integration target, which make test leaves out (on a running bed)
	@$(MAKE) --no-print-directory integration TARGETS=role_dr_drill

demo: ## the test bed, a sample app in `demo`, and the disaster-recovery drill on it (tests/demo/demo.yml)
	@$(MAKE) --no-print-directory venv collection
	$(TESTBED) up
	@echo "demo: deploying the sample app and running the drill (backup -> restore -> verify -> report -> cleanup)"
	eval "$$($(TESTBED) env)" && ANSIBLE_COLLECTIONS_PATH=$(BUILD) $(VENV)/bin/ansible-playbook tests/demo/demo.yml
	@echo "demo: reports are in $(LIFEBOAT_CACHE)/demo-reports/ (report.md, report.html, report.json)"

clean:
	rm -rf $(BUILD)
