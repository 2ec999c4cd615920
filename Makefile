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

.PHONY: setup run test lint format worker clean

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
	@echo "MiniGo on http://$(HOST):$(PORT)/  (admin: http://$(HOST):$(PORT)/admin/)"
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
