"""What a stored site's fields may hold, checked on every write path: the model's validators
(run by the wizard's forms, the admin and the sandbox shortcut through ``full_clean``) and the
database constraints in :class:`~wizard.models.Site` for whatever bypasses them.

Azure's naming rules: https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
GUID_PATTERN = r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"
RESOURCE_GROUP_PATTERN = r"^[-\w._()]{0,89}[-\w_()]$"
REGION_PATTERN = r"^[a-z][a-z0-9]{2,39}$"
# printable text without control characters (names shown in pages, mails and Azure tags)
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"

validate_slug = RegexValidator(
    SLUG_PATTERN,
    "Use lower-case letters, digits and single hyphens (like home-lab): the slug is part of every "
    "Azure resource name and of the site's addresses here.",
)
validate_guid = RegexValidator(
    GUID_PATTERN, "This is not a GUID; it looks like 00000000-0000-0000-0000-000000000000."
)
validate_resource_group = RegexValidator(
    RESOURCE_GROUP_PATTERN,
    "This is not a valid resource group name: use 1-90 letters, digits, hyphens, underscores, periods "
    "or parentheses, not ending in a period.",
)
validate_region = RegexValidator(
    REGION_PATTERN,
    "This is not an Azure region name; write it like westeurope (lower case, no spaces, as "
    "`az account list-locations` shows).",
)
validate_text = RegexValidator(
    TEXT_PATTERN, "Control characters (like a line break) are not allowed here."
)


def validate_https(value: str) -> None:
    """Secrets travel to this address: only https:// with a host name."""
    parts = urlsplit(value or "")
    if value and (parts.scheme != "https" or not parts.hostname):
        raise ValidationError(
            "Use an https:// address: the API key or client secret is sent there, never in clear "
            "text.",
            code="https",
        )
