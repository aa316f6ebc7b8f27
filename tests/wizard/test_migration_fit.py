"""Rows stored before the constraints existed (a shell-like slug, an over-long name) are fitted by
the migration that adds them, so upgrading never fails and no page answers 500 afterwards."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("wizard", "0004_site_dns_servers")]


@pytest.mark.django_db(transaction=True)
def test_the_constraint_migration_fits_rows_stored_before_it():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("wizard", "Site")
    old.objects.create(name="n" * 120, slug="x;$(reboot)")
    old.objects.create(name="Lab", slug="x-reboot")
    old.objects.create(name="Lab 2", slug="UPPER_case")
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    from wizard.models import Site

    rows = dict(Site.objects.values_list("name", "slug"))
    assert rows == {"n" * 80: "x-reboot-2", "Lab": "x-reboot", "Lab 2": "upper-case"}
