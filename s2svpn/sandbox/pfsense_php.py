"""Run the command-prompt snippets s2svpn sends with real PHP, against the sandbox's configuration.

pfSense's ``POST /api/v2/diagnostics/command_prompt`` runs ``exec("<command> 2>&1")`` as root. When
a ``php`` binary is installed (CI installs Debian's ``php-cli``, PHP 8.2 like pfSense 2.7.2), the
pfSense sandbox hands the commands it recognises to :class:`PhpRunner` instead of emulating them:
the snippet's PHP really runs, with ``include_path`` pointing at small stand-ins of pfSense's
``config.inc`` / ``ipsec.inc`` / ``filter.inc`` and pfSense-pkg-frr's ``frr.inc``
(``s2svpn/sandbox/php/``) that load the sandbox's stored configuration as ``$config``, save it back
on ``write_config()`` and report ``ipsec_configure()`` / ``filter_configure()`` /
``frr_generate_config()`` as events. A snippet that does not parse, forgets a ``require_once`` or
never calls ``write_config()`` fails or changes nothing, as it would on pfSense.

The firewall's absolute paths (``/usr/local/pkg``, ``/var/db/s2svpn``, ``/tmp/s2svpn-*``) are mapped
into a private directory, and only commands the sandbox classified as s2svpn's own fixed texts
reach this runner (the sandbox never runs arbitrary shell). Without ``php`` the sandbox keeps its
built-in emulation and says so once in its log.

Test infrastructure only.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s2svpn import pfsense_plan as cmds

log = logging.getLogger("s2svpn.sandbox")
STUBS = Path(__file__).with_name("php")
# firewall path prefix -> directory under the runner's root
MAPPED = ("/usr/local/pkg/", "/var/db/s2svpn/", "/tmp/s2svpn-")
_said_missing = False


@dataclass
class PhpOutcome:
    output: str
    code: int
    config: dict | None = None  # the configuration as write_config() saved it (None: not saved)
    events: list[tuple[str, str]] = field(default_factory=list)  # (function, detail)
    files: dict[str, str] = field(default_factory=dict)  # firewall path -> content, after the run


def php_binary() -> str | None:
    return os.environ.get("S2SVPN_SANDBOX_PHP") or shutil.which("php")


class PhpRunner:
    """Executes one command at a time in ``root`` (a private directory of the sandbox)."""

    def __init__(self, root: str | Path, php: str | None = None) -> None:
        self.root = Path(root)
        self.php = php if php is not None else php_binary()
        if not self.php:
            _say_missing_once()

    @property
    def available(self) -> bool:
        return bool(self.php)

    def _local(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def _rewrite(self, command: str) -> str:
        if command.startswith(cmds.PHP + " "):
            command = (
                f"{self.php} -n -d display_errors=stderr -d include_path={self.root}/etc/inc"
                + command[len(cmds.PHP) :]
            )
        for prefix in MAPPED:
            command = command.replace(prefix, f"{self.root}{prefix}")
        return command

    def _prepare(self, config: dict, files: dict[str, str], frr_installed: bool) -> Path:
        if self.root.exists():
            shutil.rmtree(self.root)
        inc = self.root / "etc" / "inc"
        inc.mkdir(parents=True)
        for name in ("config.inc", "ipsec.inc", "filter.inc"):
            shutil.copy(STUBS / name, inc / name)
        pkg = self.root / "usr" / "local" / "pkg"
        pkg.mkdir(parents=True)
        if frr_installed:
            shutil.copy(STUBS / "frr.inc", pkg / "frr.inc")
        (self.root / "tmp").mkdir()
        for path, content in files.items():
            local = self._local(path)
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_text(content)
        state = self.root / "sandbox"
        state.mkdir()
        (state / "config.json").write_text(json.dumps(config))
        (state / "events").write_text("")
        return state

    def _collect(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for pattern in ("tmp/s2svpn-*", "var/db/s2svpn/*"):
            for local in sorted(self.root.glob(pattern)):
                if local.is_file():
                    out["/" + str(local.relative_to(self.root))] = local.read_text()
        return out

    def run(
        self, command: str, *, config: dict, files: dict[str, str], frr_installed: bool
    ) -> PhpOutcome:
        """Run ``command`` as pfSense's command prompt would, against ``config`` and ``files``."""
        state = self._prepare(config, files, frr_installed)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "S2SVPN_SANDBOX_CONFIG": str(state / "config.json"),
            "S2SVPN_SANDBOX_EVENTS": str(state / "events"),
        }
        try:
            done = subprocess.run(
                ["/bin/sh", "-c", self._rewrite(command)],
                capture_output=True,
                text=True,
                env=env,
                cwd=self.root,
                timeout=30,
            )
            output, code = done.stdout, done.returncode
            if code != 0 and done.stderr:
                output += done.stderr  # exec("... 2>&1"): errors reach the caller's output
        except subprocess.TimeoutExpired:
            output, code = "s2svpn sandbox: command timed out", 124
        saved = state / "config.json.out"
        events = [
            tuple(json.loads(line))
            for line in (state / "events").read_text().splitlines()
            if line.strip()
        ]
        new_config = _reshape(config, json.loads(saved.read_text())) if saved.exists() else None
        return PhpOutcome(output, code, new_config, events, self._collect())  # type: ignore[arg-type]


def _reshape(before: Any, after: Any) -> Any:
    """PHP encodes an empty array as ``[]``: give back ``{}`` where the sandbox had a mapping."""
    if isinstance(after, list) and not after and isinstance(before, dict):
        return {}
    if isinstance(after, dict) and isinstance(before, dict):
        return {k: _reshape(before.get(k), v) for k, v in after.items()}
    return after


def _say_missing_once() -> None:
    global _said_missing
    if not _said_missing:
        _said_missing = True
        log.info(
            "pfSense sandbox: no php binary found; command-prompt snippets are emulated in Python "
            "(install php-cli to run them for real)"
        )
