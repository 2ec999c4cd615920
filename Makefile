# The two commands: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
# Workers skip Celery's broadcast features (gossip, mingle, heartbeat): MiniGo needs none of
# them, and their reconnect after a Redis restart is what ended workers.
WORKER_FLAGS := --without-gossip --without-mingle --without-heartbeat --loglevel=info
SUPERVISE := $(BIN)/python -m minigo.supervise

.PHONY: setup run demo banner test lint format worker clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	# face_recognition's own requirements would compile dlib; dlib-bin (above) provides it.
	$(BIN)/python -m pip install --quiet --no-deps face-recognition==1.3.0
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_store
	@$(MAKE) --no-print-directory banner
	@if [ -n "$$REDIS_URL" ]; then \
	  echo "REDIS_URL is set: a Celery worker and beat run beside the server, restarted if they die"; \
	  $(SUPERVISE) --name worker -- $(BIN)/celery -A minigo worker $(WORKER_FLAGS) --concurrency=2 & \
	  WORKER=$$!; \
	  $(SUPERVISE) --name beat -- $(BIN)/celery -A minigo beat --loglevel=info \
	    --schedule var/celerybeat-schedule & \
	  BEAT=$$!; \
	  trap 'kill $$WORKER $$BEAT 2>/dev/null' EXIT INT TERM; \
	fi; \
	$(BIN)/daphne -b $(HOST) -p $(PORT) minigo.asgi:application

# Where to go once the server is up.
banner:
	@echo ""
	@echo "  MiniGo is starting on http://$(HOST):$(PORT)/"
	@echo "  Shoppers start here:  http://$(HOST):$(PORT)/signup/   (open it on a phone; then Face & QR)"
	@echo "  Managers sign in at:  http://$(HOST):$(PORT)/accounts/login/  with the manager account above"
	@echo "                        (kept in var/demo-credentials.txt), then land on /manager/"
	@echo "  Make the store move:  stop this and run 'make demo': the server in demo mode plays a"
	@echo "                        scenario whose shoppers you can sign in as (the password is printed)."
	@echo "                        To replay your own scenario here, start with MINIGO_ACCEPT_SEES=true and run"
	@echo "                        .venv/bin/python manage.py replay FILE.jsonl --server http://$(HOST):$(PORT) --setup"
	@echo "  API docs: http://$(HOST):$(PORT)/api/docs/   admin: http://$(HOST):$(PORT)/admin/"
	@echo ""

# The server in demo mode (MINIGO_DEMO=true: accepts synthetic camera frames, replayed
# shoppers get a known password) playing a generated scenario; the server keeps running
# after the scenario ends. DEMO_SHOPPERS / DEMO_PICKS / DEMO_SPEED / DEMO_SEED tune it.
DEMO_SHOPPERS ?= 3
DEMO_PICKS ?= 12
DEMO_SPEED ?= 0.5
DEMO_SEED ?= 1
demo: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_store
	mkdir -p var
	$(BIN)/python manage.py simulate var/demo-scenario.jsonl --shoppers $(DEMO_SHOPPERS) \
	  --picks $(DEMO_PICKS) --seed $(DEMO_SEED)
	@$(MAKE) --no-print-directory banner
	@set -e; export MINIGO_DEMO=true; \
	if [ -n "$$REDIS_URL" ]; then \
	  $(BIN)/celery -A minigo worker $(WORKER_FLAGS) --beat --concurrency=2 & worker=$$!; \
	fi; \
	$(BIN)/daphne -b $(HOST) -p $(PORT) minigo.asgi:application & server=$$!; \
	trap 'kill $$server $${worker:-} 2>/dev/null' EXIT INT TERM; \
	for i in $$(seq 1 60); do \
	  curl -fsS -o /dev/null http://$(HOST):$(PORT)/healthz && break; sleep 1; \
	done; \
	echo "Playing var/demo-scenario.jsonl at $(DEMO_SPEED)x real time: watch /manager/"; \
	$(BIN)/python manage.py replay var/demo-scenario.jsonl --server http://$(HOST):$(PORT) \
	  --setup --speed $(DEMO_SPEED) --no-progress; \
	echo "Scenario played. The demo server keeps running: Ctrl-C stops it."; \
	wait $$server

worker: setup
	$(SUPERVISE) --name worker -- $(BIN)/celery -A minigo worker $(WORKER_FLAGS)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var/test-*.sqlite3 tests/e2e/artifacts
