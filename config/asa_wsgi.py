"""WSGI entry point of the authorization responder's own processes.

    gunicorn config.asa_wsgi:application --workers 4 --worker-class sync

docs/operations.md says how to deploy it beside the web processes (`config.wsgi`).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "config.asa_settings"
application = get_wsgi_application()
