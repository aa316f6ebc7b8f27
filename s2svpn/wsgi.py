from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from s2svpn.vardir import prepare

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "s2svpn.settings")
prepare()  # first start: ./var and its generated keys (settings only read them)
application = get_wsgi_application()
