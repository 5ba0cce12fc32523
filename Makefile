# Shortcuts for the checks the test suite enforces (see docs/testing.md).
.PHONY: style quality test test-quick docs

style:  ## rewrite the tree: ruff's safe fixes, then its formatter
	python3 -m ruff check --fix .
	python3 -m ruff format .

quality:  ## what CI checks, without running the tests: lint, format, import contracts, docs
	python3 -m ruff check .
	python3 -m ruff format --check .
	lint-imports
	NO_MKDOCS_2_WARNING=1 python3 -m mkdocs build --strict -q -d /tmp/emogen-site

test:
	python3 -m pytest -q tests

test-quick:
	python3 -m pytest -q -m "not slow" tests

docs:
	NO_MKDOCS_2_WARNING=1 python3 -m mkdocs serve
