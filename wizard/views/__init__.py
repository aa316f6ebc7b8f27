"""The wizard's pages: thin adapters over the forms (domain core), the clients and the run engine.

One view per page, one page template each, and named partials under ``templates/wizard/partials``
returned when the request comes from htmx (django-htmx, https://django-htmx.readthedocs.io/).
Every page also works without JavaScript: buttons are real form submits, links have an href.
``pages`` (site list, site page, manual export), ``site_step`` (step 0), ``steps`` (steps 1-7,
live validation, Launch) and ``runs`` (progress, Retry/Resume/Cancel, tear-down).
"""
