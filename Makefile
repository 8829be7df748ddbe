# The two commands of the README. Both create/reuse .venv in the repo root and install the project.
#   make demo   generate the sample city, index it, open the console on http://127.0.0.1:7860
#   make test   install with test extras and run the whole test-suite
#   make test-fast  the same checks without the tests marked slow or browser (minutes -> under two)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := sample_footage/generated
DEMO_INDEX := data/demo-index
# make test's pytest-xdist workers, one test file each: half the suite's time waits on one core
# (subprocess start-ups, kill-and-resume loops, the console and chromium), so two workers on two cores
# roughly halve its wall time. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2

# Real model files shipped beside the checkout (detector, colour table) are used when present;
# elsewhere they are downloaded once, with a checksum check, into ~/.cache/footage-search.
ifneq ($(wildcard ../shared/models),)
export FOOTAGE_SEARCH_MODELS_MODELS_DIR := $(abspath ../shared/models)
endif

.PHONY: demo test test-fast install lint clean chromium

# The browser tests drive Debian's chromium (never a browser downloaded by Playwright); fonts-nanum
# renders the Korean text of the console in its screenshots.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/footage-search demo --out $(DEMO) --index $(DEMO_INDEX)

chromium:
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    $(SUDO) apt-get install -y -qq --no-install-recommends chromium fonts-nanum; }

test: $(STAMP) chromium
	$(BIN)/python -m ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# No chromium needed: the browser tests are deselected with the slow ones.
test-fast: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -m "not slow and not browser"

lint: $(STAMP)
	$(BIN)/python -m ruff check .

clean:
	rm -rf $(DEMO) data tests/artifacts .pytest_cache
