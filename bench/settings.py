"""bench_admin's pages process: the project's settings, serving the console and, beside it,
Django's stock admin of the same models (bench/stock_admin.py). Never a deployment's settings."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.stock_admin"
