"""The Viewer, Operator and Administrator groups with their permissions (s2svpn.roles)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from s2svpn.roles import sync_roles


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations (post_migrate): make them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("wizard", "0005_site_validation_roles"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
