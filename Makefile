# opsdeck.tmux — every target sets itself up: a virtual environment with the
# pinned requirements, and the collection linked where Ansible finds it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
CACHE := $(CURDIR)/.cache
COLLECTIONS := $(CACHE)/collections
LINK := $(COLLECTIONS)/ansible_collections/opsdeck/tmux
# ansible-test needs a real directory ending in ansible_collections/opsdeck/tmux
SANITY_ROOT := $(CACHE)/sanity/ansible_collections/opsdeck/tmux
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(BIN):$(PATH)
PYTEST_ARGS ?=
# community.docker (molecule's driver, the docker transport) comes from the
# `ansible` package on PyPI: Galaxy is not reachable from these machines
ANSIBLE_BUNDLE := ansible==12.3.0
COMMUNITY := $(COLLECTIONS)/ansible_collections/ansible/posix/MANIFEST.json

.PHONY: demo test unit integration sanity lint bench venv collection clean

demo: collection ## the main job: the demo playbook on localhost through opsdeck.tmux.shared
	cd playbooks && $(BIN)/ansible-playbook -i inventory/localhost.ini demo.yml

test: collection ## the whole suite: lint, sanity, unit, integration
	$(MAKE) lint
	$(MAKE) sanity
	$(BIN)/pytest -p no:cacheprovider tests $(PYTEST_ARGS)

unit: collection
	$(BIN)/pytest -p no:cacheprovider tests/unit $(PYTEST_ARGS)

integration: collection
	$(BIN)/pytest -p no:cacheprovider tests/integration $(PYTEST_ARGS)

lint: collection
	$(BIN)/ruff check plugins tests
	$(BIN)/ruff format --check plugins tests
	ANSIBLE_ROLES_PATH=tests/integration/targets $(BIN)/ansible-lint --profile production --offline

sanity: collection
	rm -rf $(CACHE)/sanity && mkdir -p $(SANITY_ROOT)
	git ls-files -z --cached --others --exclude-standard | \
	  tar --null -T - -cf - | tar -xf - -C $(SANITY_ROOT)
	cd $(SANITY_ROOT) && git init -q && git add -A && \
	  $(BIN)/ansible-test sanity --python $$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])') \
	    --requirements --color no

bench: collection ## not part of the tests: overhead against the plain transport
	$(BIN)/python tests/bench/bench.py --write docs/benchmarks.md

collection: $(VENV)/.done $(LINK) $(COMMUNITY) $(HOME)/.ansible/test/cache/get_pip_24_2.py
	@# each Ansible worker imports the plugins afresh: bytecode saves it the compile
	@$(BIN)/python -m compileall -q plugins >/dev/null

$(LINK):
	mkdir -p $(dir $(LINK))
	ln -sfn $(CURDIR) $(LINK)

$(COMMUNITY): $(VENV)/.done
	rm -rf $(CACHE)/bundle && mkdir -p $(CACHE)/bundle
	$(BIN)/pip download -q --no-deps -d $(CACHE)/bundle $(ANSIBLE_BUNDLE)
	cd $(CACHE)/bundle && $(BIN)/python -c 'import glob, zipfile; \
	  z = zipfile.ZipFile(glob.glob("ansible-*.whl")[0]); \
	  z.extractall(".", [n for n in z.namelist() if n.startswith(("ansible_collections/community/docker/", "ansible_collections/ansible/posix/", \
	    "ansible_collections/community/library_inventory_filtering_v1/"))])'
	$(BIN)/ansible-galaxy collection install --offline -p $(COLLECTIONS) \
	  $(CACHE)/bundle/ansible_collections/community/library_inventory_filtering_v1 \
	  $(CACHE)/bundle/ansible_collections/community/docker $(CACHE)/bundle/ansible_collections/ansible/posix
	rm -rf $(CACHE)/bundle

$(VENV)/.done: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

# ansible-test downloads get-pip.py from a host this machine cannot reach;
# this stand-in installs pip from the interpreter's bundled ensurepip wheel.
$(HOME)/.ansible/test/cache/get_pip_24_2.py: tests/sanity/get_pip_standin.py
	mkdir -p $(dir $@)
	cp $< $@

clean:
	rm -rf $(VENV) $(CACHE) tests/output
