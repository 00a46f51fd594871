# MedConnect: `make run` and `make test` are all you need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
# The product's own 403/404/500 pages by default; `make run DEBUG=true` for Django's
# debug pages. Served over plain http on your machine, so no HTTPS redirect or secure cookies.
DEBUG ?= false
# A socket that goes silent (laptop lid, lost Wi-Fi) is pinged every 10 s and
# dropped 10 s after an unanswered ping: its peer hears `lost` within ~22 s.
DAPHNE_FLAGS ?= --ping-interval 10 --ping-timeout 10
PO := locale/pt_BR/LC_MESSAGES/django.po
MO := locale/pt_BR/LC_MESSAGES/django.mo

.PHONY: run test install install-dev migrate static messages compilemessages seed lint \
        screenshots bench vendor clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# The .mo is committed, so a machine without gettext still runs; it is rebuilt
# when the catalog changes and msgfmt is there.
$(MO): $(PO)
	@if command -v msgfmt >/dev/null; then $(PY) manage.py compilemessages --locale pt_BR --ignore ".venv" -v 0; \
	else echo "msgfmt not found: using the committed $(MO)"; touch $@; fi
compilemessages: $(VENV)/.installed $(MO)

migrate: $(VENV)/.installed
	$(PY) manage.py migrate --noinput -v 0

static: $(VENV)/.installed
	$(PY) manage.py collectstatic --noinput -v 0

## run: set up everything and serve on http://$(HOST):$(PORT) with Daphne
run: $(VENV)/.installed compilemessages migrate static
	$(PY) manage.py seed_demo --if-empty
	@echo "MedConnect is at http://$(HOST):$(PORT)/  (Ctrl+C to stop)"
	DEBUG=$(DEBUG) HTTPS=false $(VENV)/bin/daphne $(DAPHNE_FLAGS) -b $(HOST) -p $(PORT) medconnect.asgi:application

## test: the whole suite (Python, browser, JavaScript), on both cores; a file's tests stay
## on one worker, so the browser and live tests share their server within a file
test: $(VENV)/.installed-dev compilemessages
	DEBUG=false STATIC_MANIFEST=true $(PY) manage.py collectstatic --noinput -v 0
	$(VENV)/bin/ruff check .
	node --test static/js/tests/
	$(PY) -m pytest -n 2 --dist loadfile

## screenshots: only the browser tests, which save screenshots to screenshots/
screenshots: $(VENV)/.installed-dev
	DEBUG=false $(PY) manage.py collectstatic --noinput -v 0
	$(PY) -m pytest -m browser

## messages: update the pt_BR catalog from the sources
messages: $(VENV)/.installed
	$(PY) manage.py makemessages --locale pt_BR --no-location --ignore ".venv/*" --ignore "data/*" --ignore "static/vendor/*"

seed: migrate
	$(PY) manage.py seed_demo

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(VENV)/.installed-dev
	$(PY) bench/signaling.py
	$(PY) bench/reports.py
	$(PY) bench/closings.py

## vendor: refresh static/vendor/ from the npm registry (versions in package.json)
vendor:
	bash scripts/vendor.sh

clean:
	rm -rf $(VENV) data/staticfiles data/test screenshots
