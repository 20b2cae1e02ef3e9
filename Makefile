VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[train,dev]'
	touch $(STAMP)

SHARED ?= $(or $(FACEMOJI_SHARED),../shared)
SAMPLE := $(SHARED)/media/justin.jpg

run: $(STAMP)
	$(VENV)/bin/facemoji stickers --profile classic -o out/stickers
	@if [ -f $(SAMPLE) ]; then \
		for mode in overlay box panel; do \
			$(VENV)/bin/facemoji image $(SAMPLE) -o out/photo-$$mode.png --mode $$mode; \
		done; \
	else echo "no sample photo at $(SAMPLE): try .venv/bin/facemoji image YOUR_PHOTO.jpg -o out/"; fi
	@echo "wrote out/ (open the PNGs)"

test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/pytest -q

bench: $(STAMP)
	for b in classifier pipeline avatar liveface; do $(PY) benchmarks/bench_$$b.py || exit 1; done

clean:
	rm -rf $(VENV) out .pytest_cache
