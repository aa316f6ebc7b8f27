#!/usr/bin/env python
from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "s2svpn.settings")
    from s2svpn.vardir import prepare

    prepare()  # first start: ./var and its generated keys (settings only read them)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
