"""Who did what, and when: launches, retries, pushes, tear-downs, changed secrets and roles.

An event names the secret that changed, never its value. ``audit.record`` is called by the views
that act; changed secrets and role changes are caught by signals (``audit.signals``), with the
acting user taken from the request (``audit.middleware``). This app also owns the roles' data
migration (``s2svpn.roles``).
"""
