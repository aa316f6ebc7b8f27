"""What goes through the fixed command endpoint besides status: the FRR package's sections (written
only as base64 JSON, see ``s2svpn.pfsense_plan``) and the checkpoint kept on the firewall."""

from __future__ import annotations

import json
import secrets

from s2svpn import pfsense_plan as plan
from s2svpn.clients.errors import ClientError
from s2svpn.clients.pfsense.objects import FirewallObjects


class FrrAndCheckpoints(FirewallObjects):
    """FRR package sections (read, write, generate) and the checkpoint of a push."""

    # ---- FRR (command endpoint; data only as base64) -------------------------------------------
    def _json_command(self, command: str, failure: str, code_name: str) -> dict:
        """Run a fixed read-only command whose output is a JSON object; a failed run or an
        unreadable answer is a transient :class:`ClientError` saying ``failure``."""
        output, code = self.command(command)
        try:
            data = json.loads(output) if code == 0 else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ClientError(failure, permanent=False, code=code_name)
        return data

    def read_frr_sections(self) -> dict:
        data = self._json_command(
            plan.frr_read_command(),
            "Could not read the FRR settings from the firewall (the PHP helper failed); check "
            "that pfSense-pkg-frr is installed.",
            "FRR_READ_FAILED",
        )
        return {
            "frr": data.get("frr") or None,
            "frrbgp": data.get("frrbgp") or None,
            "frrbgpadvanced": data.get("frrbgpadvanced") or None,
            "frrbgpneighbors": [
                n for n in data.get("frrbgpneighbors") or [] if isinstance(n, dict)
            ],
        }

    def write_frr(self, sections: dict) -> None:
        """Write the FRR package sections (no apply); see :func:`frr_generate_config`."""
        nonce = secrets.token_hex(8)
        for command in plan.frr_write_commands(sections, nonce):
            _output, code = self.command(command)
            if code != 0:
                raise ClientError(
                    f"Writing the FRR settings failed on the firewall (exit {code}). Nothing was "
                    "applied; retry, and check the firewall's system log if it repeats.",
                    permanent=False,
                    code="FRR_WRITE_FAILED",
                )

    def frr_generate_config(self) -> None:
        _output, code = self.command(plan.frr_generate_command())
        if code != 0:
            raise ClientError(
                "pfSense could not generate the FRR configuration (frr_generate_config failed, "
                f"exit {code}); is pfSense-pkg-frr installed? Install it and retry.",
                permanent=code == 255,
                code="FRR_GENERATE_FAILED",
            )

    # ---- system settings (Allow APIPA, IPsec Advanced maximum MSS) ------------------------------
    def read_system(self) -> dict:
        """``system/{no_apipa_block,maxmss_enable,maxmss}`` (None = unset); no REST field exists."""
        data = self._json_command(
            plan.system_read_command(),
            "Could not read the firewall's system settings (Allow APIPA, maximum MSS) through "
            "the command endpoint; retry.",
            "SYSTEM_READ_FAILED",
        )
        return {key: data.get(key) for key in plan.SYSTEM_KEYS}

    def write_system(self, values: dict) -> None:
        """Set (None: unset) system settings; live after the next filter reload (firewall apply)."""
        for command in plan.system_write_commands(values, secrets.token_hex(8)):
            _output, code = self.command(command)
            if code != 0:
                raise ClientError(
                    f"Writing the system settings failed on the firewall (exit {code}); retry.",
                    permanent=False,
                    code="SYSTEM_WRITE_FAILED",
                )

    # ---- checkpoint ---------------------------------------------------------------------------
    def checkpoint(self) -> dict:
        """Newest config revision + a backup of the touched sections kept on the firewall.

        The backup (it contains PSKs) stays in ``/var/db/s2svpn`` on the firewall; s2svpn keeps
        only its id and SHA-256 so a restore can prove it restores exactly that backup.
        """
        nonce = secrets.token_hex(8)
        output, code = self.command(plan.checkpoint_command(nonce))
        try:
            info = json.loads(output) if code == 0 else {}
        except ValueError:
            info = {}
        if not info.get("sha256"):
            raise ClientError(
                "Could not save a checkpoint of the firewall configuration; nothing was changed. "
                "Retry; if it repeats, check free space in /var/db.",
                permanent=False,
                code="CHECKPOINT_FAILED",
            )
        return {
            "revision": self.latest_revision(),
            "backup_id": nonce,
            "sha256": info["sha256"],
            "bytes": info.get("bytes"),
        }

    def restore_checkpoint(self, checkpoint: dict) -> None:
        output, code = self.command(
            plan.restore_command(checkpoint["backup_id"], checkpoint["sha256"])
        )
        if code != 0:
            raise ClientError(
                f"Restoring the checkpoint failed ({output.strip()[:80] or f'exit {code}'}). The "
                "configuration before the push is in the firewall's config history "
                "(Diagnostics > Backup & Restore > Config History); restore it there.",
                permanent=code in (3, 4),
                code="RESTORE_FAILED",
            )
        self._iface_repr = None

    def discard_checkpoint(self, checkpoint: dict) -> None:
        self.command(plan.discard_checkpoint_command(checkpoint["backup_id"]))
