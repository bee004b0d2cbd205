# Two entry points (see README.md): `make studio` runs the main job, `make test` runs the tests.
# Each creates/updates .venv and installs the project into it first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: studio test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The app on the bundled model; without a display, a headless render of the bundled model instead.
studio: $(STAMP)
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		$(BIN)/sgv-studio; \
	else \
		echo "make studio: no display; rendering the bundled model headless to out/studio-demo.mp4"; \
		$(BIN)/sgv generate --seeds 0-3 --motion-seed 0-1 --grid --duration 4 --out out/studio-demo.mp4; \
		if [ -f assets/models/default-sr.safetensors ]; then \
			echo "make studio: and through the bundled SR level (cascade, 128²) to out/studio-demo-sr.mp4"; \
			$(BIN)/sgv generate --seeds 0 --duration 4 --out out/studio-demo-sr.mp4; \
		fi; \
	fi

test: $(STAMP)
	$(BIN)/ruff check engine app tests bench
	$(BIN)/python -m pytest tests

lint: $(STAMP)
	$(BIN)/ruff check engine app tests bench
	$(BIN)/ruff format --check engine app tests bench

bench: $(STAMP)
	$(BIN)/python bench/render.py

clean:
	rm -rf out .pytest_cache .ruff_cache
