"""Settings for serving bench/naive_asa.py: the project's settings with that one URL."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.naive_asa"
