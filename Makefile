# The two set-up commands are `make demo` and `make test`; both work as root on a fresh
# Debian machine: they install Mosquitto and Python's venv support with apt when missing,
# create .venv, install the project into it, and run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test system-deps lint clean train-deps train-ocr train-detector bench-models

system-deps:
	./scripts/install-system-deps.sh

$(BIN)/.installed: pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

demo: system-deps $(BIN)/.installed
	$(BIN)/python scripts/demo.py

# Two workers, each test file whole in one (module fixtures and a file's own servers stay
# together): 9-10 minutes on 2 cores where one process took 14 (README, make test).
test: system-deps $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache

# Recognition models (issue 4). Training installs the `train` extra (torch, onnx), the
# `bench` extra (RapidOCR, the teacher that labels real crops) and Debian's DIN/DejaVu fonts,
# clones the public datasets into var/data, and writes models/*.onnx + *.toml. Each run
# resumes from var/train/<model>/last.pt; logs go to var/train/<model>.log.
train-deps: $(BIN)/.installed
	./scripts/install-font-deps.sh
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,train,bench]'

train-ocr: train-deps
	mkdir -p var/train
	nice -n 10 $(BIN)/python -m models.train.train_ocr $(OCR_ARGS) 2>&1 | tee -a var/train/ocr.log

train-detector: train-deps
	mkdir -p var/train
	nice -n 10 $(BIN)/python -m models.train.train_detector 2>&1 | tee -a var/train/detector.log

bench-models: $(BIN)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(BIN)/python -m models.bench

.PHONY: bench-store
# Store figures (docs/scaling.md): ingest rate, 28-day search latency, expiry cost.
# Needs ~8 GB of disk and 10-20 minutes at the default 1 million passages a day.
bench-store: system-deps $(BIN)/.installed
	$(BIN)/python -m benchmarks.store

.PHONY: bench-agent
# Agent figures: the motion gate on rendered traffic by day and at night (ms per frame,
# vehicles with one right passage), live 25 fps replay at 720p and 1080p (drops, passages
# per vehicle, RSS) and a 100,000-record spool delivered after an outage (about 16 minutes
# on the development machine).
bench-agent: system-deps $(BIN)/.installed
	$(BIN)/python -m benchmarks.agent

.PHONY: bench-search
# The largest officers' case: a 30,000-row time/place result counted, opened, paged, and
# packaged with every crop and signed record (target: package under 30 s).
bench-search: system-deps $(BIN)/.installed
	$(BIN)/python -m benchmarks.search

.PHONY: bench-research
# A generated day of 100 cameras and 5 million research sightings: ingest rate (in-process
# and through Mosquitto) and the area's origin-destination matrix (targets: >= 5,000/s, < 10 s).
bench-research: system-deps $(BIN)/.installed
	$(BIN)/python -m benchmarks.research

.PHONY: bench-alerts
# Hotlist matching cost per passage against 1 million entries, and the end-to-end
# latency from a unit's passage to the alert on the operator's page (real Mosquitto).
bench-alerts: system-deps $(BIN)/.installed
	$(BIN)/python -m benchmarks.alerts

.PHONY: soak
# Time as an input: a broker, the central and two units carried 60 days forward in simulated
# time (CRL renewal, retention, day keys, backups, review dates); prints every step. About
# 10 minutes; a short version runs in `make test` (tests/test_soak.py).
soak: system-deps $(BIN)/.installed
	$(BIN)/python -m tests.soak --days 60 --step-hours 12

.PHONY: fuzz
# Long fuzz (issue 18): every decoder the outside world reaches, thousands of examples each,
# and every operation of docs/openapi.json as each role (tests/fuzz_support.py). `make test`
# runs the same tests briefly. Ends with a summary of what was tried and what was found.
fuzz: $(BIN)/.installed
	ANPR_FUZZ=long $(BIN)/python -m pytest -p tests.fuzz_support --timeout 3600 -q \
		tests/test_fuzz_decoders.py tests/test_fuzz_http.py

.PHONY: test-arm64
# The unit's production install on arm64 (issue #22): scripts/install-unit.sh run in a Debian
# bookworm arm64 root under qemu-user (debootstrap; cached in var/arm64-root), then the agent's
# version, offline checks and broker-less self-test inside it. Needs root and network (Debian's
# mirror, PyPI); not part of `make test`. Times in docs/operations.md.
test-arm64:
	./scripts/test-arm64.sh

.PHONY: translations
# The pages' translations (#23, docs/operations.md "The pages' language"): extract the
# messages, merge them into each language's .po, compile. Translate what is new in between:
# tests/test_languages.py fails while a message has no translation or the .mo is stale.
TRANSLATIONS := central/web/translations
translations: $(BIN)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--project anpr --copyright-holder "anpr contributors" -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --ignore-obsolete
	$(BIN)/pybabel compile -d $(TRANSLATIONS)
