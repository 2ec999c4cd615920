from __future__ import annotations

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minigo.settings")

app = Celery("minigo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect(weak=False)
def _keep_database_connections(**kwargs) -> None:
    from minigo import worker_db

    worker_db.install(app)


@signals.worker_init.connect(weak=False)
def _keep_channel_layer_loop(**kwargs) -> None:
    from store.services import live

    live.use_own_loop()
