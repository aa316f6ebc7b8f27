"""Network-namespace lab: an Azure-like gateway and a pfSense-like firewall behind a home NAT.

Four namespaces per run (names carry a unique prefix, so parallel or stale runs never clash)::

    az (Azure VPN gateway)  --  inet (router)  --  nat (home router, nftables masquerade)  --  onprem (pfSense)
    198.51.100.10/24            .1 / 203.0.113.1    203.0.113.2/24 | 192.168.178.1/24          192.168.178.10/24

One strongSwan charon (userspace ESP through ``kernel-libipsec`` on a TUN device ``ipsec0``) and
one FRR (zebra + bgpd, as user ``frr``) run per end. Every file, socket and pid lives under the
per-run directory; each charon gets its own ``/run`` and each FRR its own ``/var/tmp`` by bind mounts
inside the private mount namespace ``ip netns exec`` creates. Teardown is by PID, then the namespaces
are deleted. Recipe and pitfalls: ``shared/reference/lab/README.md`` §3 (strongSwan
``routing_table_prio 32800`` so libipsec's 0/0 route is inert, explicit plugin list, FRR's connect
timer, ...).

This module only knows about namespaces and daemons; what runs in them is rendered by
``s2svpn.lab.render`` from s2svpn's own desired state.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# The lab's internet: documentation ranges only, nothing leaves the namespaces.
AZURE_PUBLIC_IP = "198.51.100.10"
INET_AZ_IP = "198.51.100.1"
NAT_PUBLIC_IP = "203.0.113.2"
INET_NAT_IP = "203.0.113.1"
NAT_LAN_IP = "192.168.178.1"
PFSENSE_WAN_IP = "192.168.178.10"
HOME_LAN_PREFIX = "192.168.178.0/24"

NODES = ("az", "inet", "nat", "onprem")
ENDS = ("az", "onprem")
LAB_NS_PREFIX = "s2slab"  # every lab namespace name starts with this
LAB_DIR_PREFIX = "s2svpn-lab-"  # every per-run directory starts with this
SPAWNED: list[int] = []  # every daemon PID this process started (for the leftovers check)
CREATED_DIRS: list[Path] = []  # per-run directories this process created (logs, configs)
# Lab.syn_mss: print the MSS option of the first SYN to argv[1]:argv[2] (raw socket, 4 s at most)
_SYN_SNIFFER = """import socket,struct,sys
s=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_TCP);s.settimeout(4)
print("ready",flush=True)
while True:
    d=s.recv(65535);t=d[(d[0]&15)*4:]
    if socket.inet_ntoa(d[16:20])!=sys.argv[1] or struct.unpack("!H",t[2:4])[0]!=int(sys.argv[2]):
        continue
    if t[13]&18!=2:
        continue
    o,i=t[20:(t[12]>>4)*4],0
    while i<len(o) and o[i]!=0:
        if o[i]==1:
            i+=1;continue
        if o[i]==2:
            print(struct.unpack("!H",o[i+2:i+4])[0]);sys.exit(0)
        i+=max(o[i+1],2)
    print("none");sys.exit(0)
"""
_CONNECT = (
    "import socket,sys;s=socket.socket();s.bind((sys.argv[1],0));s.settimeout(2);"
    "s.connect_ex((sys.argv[2],int(sys.argv[3])))"
)

CHARON = "/usr/lib/ipsec/charon"
LIBIPSEC = "/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so"
ZEBRA = "/usr/lib/frr/zebra"
BGPD = "/usr/lib/frr/bgpd"

CHARON_PLUGINS = (
    "random nonce openssl aes sha1 sha2 hmac gcm kdf pem pkcs1 x509 pubkey "
    "kernel-libipsec kernel-netlink socket-default vici updown"
)


def missing_requirements() -> str:
    """Why the lab cannot run here ("" when it can): root, /dev/net/tun, the packages."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces, bind mounts, TUN)"
    if not os.path.exists("/dev/net/tun"):
        return "the lab needs /dev/net/tun"
    for tool in ("ip", "nft", "swanctl", "vtysh"):
        if not shutil.which(tool):
            return f"'{tool}' is missing: apt-get install strongswan-swanctl frr nftables iproute2"
    for path in (CHARON, LIBIPSEC, ZEBRA, BGPD):
        if not os.path.exists(path):
            return (
                f"{path} is missing: apt-get install strongswan-charon libcharon-extra-plugins frr"
            )
    plugins = Path(LIBIPSEC).parent
    for name in CHARON_PLUGINS.split():
        if not (plugins / f"libstrongswan-{name}.so").exists():
            return (
                f"charon's {name} plugin is missing: apt-get install "
                "libstrongswan-standard-plugins libcharon-extra-plugins"
            )
    try:
        import vici  # noqa: F401
    except ImportError:
        return "the Python package 'vici' is missing (requirements-dev.txt)"
    return ""


def strongswan_conf(
    node_dir: Path, *, port: int = 500, port_nat_t: int = 4500, table: int = 220
) -> str:
    """charon's own settings for one lab end (paths inside ``node_dir``; README §3.3).

    ``port``/``port_nat_t``/``table`` let a second charon share a namespace (the active-active
    lab's second pfSense tunnel: s2svpn.lab.activeactive)."""
    return f"""\
charon {{
  load_modular = no
  load = {CHARON_PLUGINS}
  port = {port}
  port_nat_t = {port_nat_t}
  install_routes = no
  # kernel-libipsec always routes the remote TS (0.0.0.0/0) into ipsec0 in its own table;
  # a rule priority after main (32766) makes that route inert: routing decides (VTI semantics).
  routing_table = {table}
  routing_table_prio = 32800
  # lab speed: a dead peer is declared after ~7 s instead of ~165 s
  retransmit_timeout = 1.0
  retransmit_base = 1.4
  retransmit_tries = 3
  plugins {{
    vici {{
      socket = unix://{node_dir}/run/charon.vici
    }}
  }}
  filelog {{
    lab {{
      path = {node_dir}/charon.log
      time_format = %H:%M:%S
      ike_name = yes
      flush_line = yes
      default = 1
      ike = 2
    }}
  }}
  syslog {{
    daemon {{
      default = -1
    }}
  }}
}}
"""


class LabError(RuntimeError):
    """The lab could not be built or a daemon did not start (the message says which and why)."""


def _run(args: list[str], *, check: bool = True, **kw: Any) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, **kw)
    if check and result.returncode != 0:
        raise LabError(f"{' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def wait_for(
    predicate: Callable[[], Any], timeout: float, *, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll ``predicate`` until it returns something truthy; raise ``TimeoutError`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception:  # daemons not ready yet, sockets not there yet
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what or predicate}")
        time.sleep(interval)


class Lab:
    """One run of the lab. Use as a context manager (``with Lab() as lab: ...``)."""

    def __init__(self, base: Path | str | None = None, prefix: str | None = None) -> None:
        if base is None:
            base = tempfile.mkdtemp(prefix=LAB_DIR_PREFIX, dir=os.environ.get("S2SVPN_LAB_DIR"))
            CREATED_DIRS.append(Path(base))
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)  # FRR runs as user frr and must traverse it
        if not traversable(self.base):
            raise LabError(
                f"FRR runs as user frr and cannot reach {self.base}: a parent directory is not "
                "world-executable. Use a directory under /tmp (the default) or chmod o+x its parents."
            )
        self.prefix = prefix or f"{LAB_NS_PREFIX}{uuid.uuid4().hex[:6]}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.namespaces: list[str] = []
        self.started = time.monotonic()

    # ---- names and paths -------------------------------------------------------------------
    def ns(self, node: str) -> str:
        return f"{self.prefix}-{node}"

    def path(self, node: str, *parts: str) -> Path:
        return self.base.joinpath(node, *parts)

    # ---- commands --------------------------------------------------------------------------
    def ip(self, node: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _run(["ip", "-n", self.ns(node), *args], check=check)

    def x(
        self, node: str, *args: str, check: bool = True, **kw: Any
    ) -> subprocess.CompletedProcess:
        """Run a command inside a node's namespace."""
        return _run(["ip", "netns", "exec", self.ns(node), *args], check=check, **kw)

    def swanctl(self, node: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = dict(os.environ, STRONGSWAN_CONF=str(self.base / "swanctl-client.conf"))
        uri = f"unix://{self.path(node, 'run', 'charon.vici')}"
        return _run(["swanctl", *args, "--uri", uri], check=check, env=env)

    def vtysh(self, node: str, *commands: str, check: bool = True) -> str:
        args = ["vtysh", "--vty_socket", str(self.path(node, "frr"))]
        for command in commands:
            args += ["-c", command]
        return _run(args, check=check).stdout

    def vtysh_json(self, node: str, command: str) -> Any:
        return json.loads(self.vtysh(node, command))

    @contextlib.contextmanager
    def vici(self, node: str, timeout: float = 5.0) -> Iterator[Any]:
        """A python-vici session on a node's charon (values come back as bytes)."""
        import vici

        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(timeout)
        sock.connect(str(self.path(node, "run", "charon.vici")))
        try:
            yield vici.Session(sock)
        finally:
            sock.close()

    def list_sas(self, node: str) -> list[dict]:
        """``[{"name": conn, **ike_sa}]`` from the node's charon (bytes decoded to str)."""
        with self.vici(node) as session:
            return [
                {"name": name, **_decode(sa)}
                for entry in session.list_sas()
                for name, sa in entry.items()
            ]

    def log(self, node: str) -> str:
        try:
            return self.path(node, "charon.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # ---- topology --------------------------------------------------------------------------
    def build(
        self,
        *,
        ports_forwarded: bool = False,
        azure_drops_ike_init: bool = False,
        azure_public_ip: str = AZURE_PUBLIC_IP,
        nat_public_ip: str = NAT_PUBLIC_IP,
    ) -> None:
        """Namespaces, links, the home router's masquerade (and optional port forwarding).

        ``azure_drops_ike_init`` makes the Azure end ignore IKE_SA_INIT requests (connection mode
        InitiatorOnly: Azure only initiates, never answers). The two public addresses may be any
        IPv4 (each sits on a /24 with the lab's internet router).
        """
        self.azure_public_ip, self.nat_public_ip = azure_public_ip, nat_public_ip
        for node in NODES:
            self.add_node(node)
        inet_az, inet_nat = _router_side(azure_public_ip), _router_side(nat_public_ip)
        self._veth("az", "az-wan", f"{azure_public_ip}/24", "inet", "inet-az", f"{inet_az}/24")
        self._veth("nat", "nat-wan", f"{nat_public_ip}/24", "inet", "inet-nat", f"{inet_nat}/24")
        self._veth("nat", "nat-lan", f"{NAT_LAN_IP}/24", "onprem", "op-wan", f"{PFSENSE_WAN_IP}/24")
        self.ip("az", "route", "add", "default", "via", inet_az)
        self.ip("nat", "route", "add", "default", "via", inet_nat)
        self.ip("onprem", "route", "add", "default", "via", NAT_LAN_IP)
        forward = (
            "  chain pre {\n   type nat hook prerouting priority dstnat; policy accept;\n"
            f'   iifname "nat-wan" udp dport {{ 500, 4500 }} dnat to {PFSENSE_WAN_IP}\n  }}\n'
            if ports_forwarded
            else ""
        )
        ruleset = (
            "table ip home {\n"
            f"{forward}"
            "  chain post {\n   type nat hook postrouting priority srcnat; policy accept;\n"
            f'   oifname "nat-wan" ip saddr {HOME_LAN_PREFIX} masquerade\n  }}\n}}\n'
        )
        _run(["ip", "netns", "exec", self.ns("nat"), "nft", "-f", "-"], input=ruleset)
        if azure_drops_ike_init:
            # IKE header after the 8-byte UDP header: exchange type at byte 18 (34 = IKE_SA_INIT),
            # flags at byte 19 (0x08 = initiator). Drop requests, keep responses to our own.
            rules = (
                "table ip azure {\n  chain in {\n   type filter hook input priority 0; policy accept;\n"
                "   udp dport 500 @th,208,8 34 @th,216,8 & 0x20 == 0 drop\n  }\n}\n"
            )
            _run(["ip", "netns", "exec", self.ns("az"), "nft", "-f", "-"], input=rules)
        (self.base / "swanctl-client.conf").write_text(
            "swanctl {\n  load = random nonce openssl pem pkcs1 x509 pubkey\n}\n"
        )

    def add_node(self, node: str) -> None:
        """A namespace for ``node`` (forwarding on, no reverse-path filter, no IPv6)."""
        name = self.ns(node)
        _run(["ip", "netns", "add", name])
        self.namespaces.append(name)
        self.ip(node, "link", "set", "lo", "up")
        self.x(
            node,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
            "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.default.rp_filter=0",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        )

    def _veth(self, a: str, a_if: str, a_ip: str, b: str, b_if: str, b_ip: str) -> None:
        _run(
            ["ip", "link", "add", a_if, "netns", self.ns(a), "type", "veth"]
            + ["peer", "name", b_if, "netns", self.ns(b)]
        )
        for node, ifname, address in ((a, a_if, a_ip), (b, b_if, b_ip)):
            self.ip(node, "addr", "add", address, "dev", ifname)
            self.ip(node, "link", "set", ifname, "up")

    def block_inbound_tunnel(self, node: str) -> None:
        """What pf does on enc0 without a pass rule: drop new connections arriving from the
        tunnel; replies to connections the node opened itself (its state) still pass."""
        rules = (
            "table inet tunnel {\n  chain in {\n   type filter hook input priority 0; policy accept;\n"
            '   iifname "ipsec0" ct state established,related accept\n'
            '   iifname "ipsec0" drop\n  }\n}\n'
        )
        _run(["ip", "netns", "exec", self.ns(node), "nft", "-f", "-"], input=rules)

    def block_link_local(self, node: str) -> None:
        """pfSense's link-local block: unless System > Advanced > Firewall & NAT "Allow APIPA"
        (``system/no_apipa_block``) is set, ``filter.inc`` (RELENG_2_7_2, the "Block IPv4
        link-local" rules) emits ``block in quick from 169.254.0.0/16 to any`` and ``block in quick
        from any to 169.254.0.0/16`` before every user rule: inbound packets from or to APIPA
        addresses are dropped on every interface, whatever the IPsec-tab rule says."""
        rules = (
            "table inet pfsense_apipa {\n"
            "  chain inbound {\n   type filter hook input priority -10; policy accept;\n"
            '   iifname != "lo" ip saddr 169.254.0.0/16 drop\n'
            '   iifname != "lo" ip daddr 169.254.0.0/16 drop\n  }\n'
            "  chain through {\n   type filter hook forward priority -10; policy accept;\n"
            "   ip saddr 169.254.0.0/16 drop\n   ip daddr 169.254.0.0/16 drop\n  }\n}\n"
        )
        _run(["ip", "netns", "exec", self.ns(node), "nft", "-f", "-"], input=rules)

    def outbound_snat(self, node: str, rules: list[tuple[str, str, str]]) -> None:
        """pfSense's manual outbound NAT mappings on the VTI, as pf gets them: for each
        ``(source, destination, translation)`` ``filter.inc`` (RELENG_2_7_2)
        ``filter_nat_rules_generate_if()`` emits ``nat on $<VTI> inet from <source> to
        <destination> -> <translation> port 1024:65535`` (in hybrid/advanced mode only; the caller
        decides that). The port range does not matter to ICMP and is left to the kernel here."""
        lines = "".join(
            f'   oifname "ipsec0" ip saddr {src} ip daddr {dst} snat to {to.split("/")[0]}\n'
            for src, dst, to in rules
        )
        ruleset = (
            "table ip pfsense_outnat {\n"
            "  chain post {\n   type nat hook postrouting priority srcnat; policy accept;\n"
            f"{lines}  }}\n}}\n"
        )
        _run(["ip", "netns", "exec", self.ns(node), "nft", "-f", "-"], input=ruleset)

    def clamp_mss(self, node: str, max_mss: int) -> None:
        """pfSense's scrub on the VTI: ``filter.inc`` (RELENG_2_7_2) ``filter_generate_scrubing()``
        emits ``scrub on $<VTI> inet all ... max-mss <interface MSS - 40>``; pf's max-mss lowers a
        larger MSS option and keeps a smaller one. Here on what leaves through ipsec0 (pf sees
        ipsecN outbound in every filter mode; inbound only in if_ipsec mode: not modelled)."""
        rules = (
            "table inet pfsense_scrub {\n"
            "  chain out {\n   type filter hook postrouting priority mangle; policy accept;\n"
            f'   oifname "ipsec0" tcp option maxseg size > {max_mss} '
            f"tcp option maxseg size set {max_mss}\n  }}\n}}\n"
        )
        _run(["ip", "netns", "exec", self.ns(node), "nft", "-f", "-"], input=rules)

    def syn_mss(self, at: str, sender: str, source: str, target: str, port: int = 5001):
        """The MSS option of the TCP SYN ``sender`` sends from ``source`` to ``target:port``, as it
        arrives in ``at`` (read with a raw socket there); None when no SYN or no option came."""
        sniffer = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(at), sys.executable, "-c", _SYN_SNIFFER, target]
            + [str(port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            sniffer.stdout.readline()  # "ready": the raw socket is open
            self.x(sender, sys.executable, "-c", _CONNECT, source, target, str(port), check=False)
            out, _ = sniffer.communicate(timeout=6)
        except subprocess.TimeoutExpired:
            sniffer.kill()
            sniffer.wait()
            return None
        return int(out) if out.strip().isdigit() else None

    def add_local(self, node: str, address: str) -> None:
        """An address the node owns (LAN IP, BGP IP, a VM in the VNet): /32 on ``lo``."""
        self.ip(node, "addr", "add", f"{address}/32", "dev", "lo")

    def add_blackhole(self, node: str, prefix: str) -> None:
        """A prefix the node owns as a whole (so BGP ``network`` finds it in the RIB)."""
        self.ip(node, "route", "add", "blackhole", prefix)

    # ---- daemons ---------------------------------------------------------------------------
    def _spawn(self, key: str, node: str, shell: str, env: dict | None = None) -> None:
        """Start a daemon in ``node``'s namespace (its own session; ``ip netns exec`` and ``sh``
        both exec, so the PID we keep is the daemon's)."""
        out = open(self.path(node, f"{key.split('/')[-1]}.out"), "w")  # noqa: SIM115
        try:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns(node), "sh", "-c", shell],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        finally:
            out.close()
        self.procs[key] = proc
        SPAWNED.append(proc.pid)

    def start_charon(self, node: str, swanctl_conf: str, **settings: int) -> None:
        """Start charon in ``node`` and load ``swanctl_conf`` (rendered by ``s2svpn.lab.render``);
        ``settings`` go to :func:`strongswan_conf`."""
        d = self.path(node)
        (d / "run").mkdir(parents=True, exist_ok=True)
        (d / "swanctl").mkdir(exist_ok=True)
        (d / "run" / "charon.vici").unlink(missing_ok=True)
        (d / "strongswan.conf").write_text(strongswan_conf(d, **settings))
        (d / "swanctl" / "swanctl.conf").write_text(swanctl_conf)
        os.chmod(d / "swanctl" / "swanctl.conf", 0o600)  # holds the PSK
        env = dict(os.environ, STRONGSWAN_CONF=str(d / "strongswan.conf"))
        # The pidfile /var/run/charon.pid is compiled in: each charon gets its own /run.
        self._spawn(f"{node}/charon", node, f"mount --bind {d}/run /run && exec {CHARON}", env=env)
        wait_for(
            lambda: self.swanctl(node, "--stats", check=False).returncode == 0,
            10,
            what=f"charon's vici socket in {node}",
        )
        self.load_swanctl(node)

    def load_swanctl(self, node: str, swanctl_conf: str | None = None) -> None:
        path = self.path(node, "swanctl", "swanctl.conf")
        if swanctl_conf is not None:
            path.write_text(swanctl_conf)
        self.swanctl(node, "--load-all", "--noprompt", "--file", str(path))

    def wait_ipsec0(self, node: str) -> None:
        wait_for(
            lambda: self.ip(node, "link", "show", "ipsec0", check=False).returncode == 0,
            10,
            what=f"the TUN device ipsec0 in {node}",
        )
        self.ip(node, "link", "set", "ipsec0", "up")

    def start_frr(self, node: str, frr_conf: str) -> None:
        """Start zebra + bgpd (user frr) with the integrated ``frr_conf``, all paths in the lab dir.

        bgpd reads the file at start, so ``frr defaults traditional`` really applies (FRR's
        ``bgp ebgp-requires-policy`` trap included).
        """
        d = self.path(node, "frr")
        (d / "tmp").mkdir(parents=True, exist_ok=True)
        (d / "frr.conf").write_text(frr_conf)
        (d / "vtysh.conf").write_text("")
        for root, dirs, files in os.walk(d):
            for name in [*dirs, *files, "."]:
                shutil.chown(os.path.join(root, name), "frr", "frr")
        common = f"--vty_socket {d} -z {d}/zserv.api -P 0 -f {d}/frr.conf"
        pre = f"mount --bind {d}/tmp /var/tmp && exec"
        self._spawn(f"{node}/zebra", node, f"{pre} {ZEBRA} {common} -i {d}/zebra.pid")
        wait_for(lambda: (d / "zserv.api").exists(), 10, what=f"zebra's socket in {node}")
        self._spawn(f"{node}/bgpd", node, f"{pre} {BGPD} {common} -i {d}/bgpd.pid")
        wait_for(lambda: (d / "bgpd.vty").exists(), 10, what=f"bgpd's vty socket in {node}")

    def pids(self) -> dict[str, int]:
        return {key: proc.pid for key, proc in self.procs.items() if proc.poll() is None}

    # ---- teardown --------------------------------------------------------------------------
    def close(self) -> None:
        """Stop every daemon by PID (bgpd, zebra, then charon), then delete the namespaces."""
        order = sorted(self.procs, key=lambda k: ("bgpd" not in k, "zebra" not in k))
        for key in order:
            proc = self.procs[key]
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        for key in order:
            proc = self.procs[key]
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
        self.procs.clear()
        for name in reversed(self.namespaces):
            # anything still inside (a stray helper) dies with the namespace's PIDs
            stray = _run(["ip", "netns", "pids", name], check=False).stdout.split()
            for pid in stray:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            _run(["ip", "netns", "del", name], check=False)
        self.namespaces.clear()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def traversable(path: Path) -> bool:
    """Can another user (frr) walk down to ``path``? Every ancestor needs o+x."""
    path = Path(path).resolve()
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents])


def _router_side(address: str) -> str:
    """The lab internet router's address on a public address's /24 (.1, or .254 if taken)."""
    net = ipaddress.ip_interface(f"{address}/24").network
    first = net.network_address + 1
    return str(first if str(first) != address else net.broadcast_address - 1)


def lab_namespaces() -> list[str]:
    """Lab namespaces that exist on this machine right now (for the leftovers check)."""
    out = _run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(LAB_NS_PREFIX)]


def lab_processes() -> list[int]:
    """PIDs of lab daemons still alive: any PID we spawned, plus any process whose command line
    or environment names a lab directory (charon finds its config through STRONGSWAN_CONF)."""
    alive = set()
    for pid in SPAWNED:
        if os.path.exists(f"/proc/{pid}"):
            with contextlib.suppress(OSError):
                state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
                if state != "Z":
                    alive.add(pid)
    marker = LAB_DIR_PREFIX.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if (
                marker in (entry / "cmdline").read_bytes()
                or marker in (entry / "environ").read_bytes()
            ):
                alive.add(int(entry.name))
    return sorted(alive)


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value
