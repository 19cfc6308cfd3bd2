"""Two network namespaces joined by a veth pair and one kernel tunnel, for the tunnel captures
(see make_captures.py and README.md, issue #12).

The underlay is the veth pair (192.0.2.1 in the client namespace, 192.0.2.2 in the server
namespace, RFC 5737 documentation addresses); the tunnel device `swy-tun` in each namespace carries
the inner addresses 203.0.113.1 (client) and 203.0.113.2 (server).  tcpdump records the client's
veth, so every packet of the inner TCP connection is in the file with its outer headers: VXLAN
(RFC 7348) or Geneve (RFC 8926) in UDP, or GRE with a key (RFC 2890) carrying Ethernet (gretap).

VXLAN is the kernel's (`ip link add … type vxlan`).  This VM's kernel has neither Geneve nor GRE
(CONFIG_GENEVE and CONFIG_NET_IPGRE_DEMUX are not set: `ip link add … type geneve|gretap` answers
"Unknown device type"), so for those Open vSwitch's userspace datapath (Debian's
openvswitch-switch, `datapath_type=netdev`) does the encapsulation: in each namespace its own
ovsdb-server and ovs-vswitchd, a bridge `br-ul` that owns the veth and the underlay address, and a
bridge `swy-tun` whose internal port carries the inner address and whose tunnel port (geneve, or
gre, which OVS sends as Ethernet over GRE) points at the peer.  The daemons are stopped by their
pid files before the namespaces are deleted.

The kernel would also send its own packets through the tunnel: IPv6 router solicitations and MLD
reports, and ARP for the inner peer.  IPv6 is disabled in both namespaces before any device exists,
and each Ethernet tunnel gets a fixed MAC address and a permanent neighbour entry for its peer, so
the only inner traffic is the TCP connection under test.  Nothing leaves the two namespaces, and
both are deleted afterwards, whatever happened.

Needs root and iproute2 (`ip`); Geneve and gretap also openvswitch-switch.  Standard library only.
"""

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

CLIENT_NS = "swy-tun-client"
SERVER_NS = "swy-tun-server"
UNDERLAY_IFACE = "swy-veth"          # the same name in both namespaces
TUNNEL_IFACE = "swy-tun"
UNDERLAY = {CLIENT_NS: "192.0.2.1", SERVER_NS: "192.0.2.2"}
INNER = {CLIENT_NS: "203.0.113.1", SERVER_NS: "203.0.113.2"}
# Fixed, locally administered MAC addresses, so that only ports and timestamps vary between runs.
MAC = {CLIENT_NS: "02:00:00:00:71:01", SERVER_NS: "02:00:00:00:71:02"}              # tunnel devices
UNDERLAY_MAC = {CLIENT_NS: "02:00:00:00:c0:01", SERVER_NS: "02:00:00:00:c0:02"}     # veth pair
BRIDGE_MAC = {CLIENT_NS: "02:00:00:00:c1:01", SERVER_NS: "02:00:00:00:c1:02"}       # OVS br-ul
VNI = 42


def _peer(ns):
    return SERVER_NS if ns == CLIENT_NS else CLIENT_NS


# kind → (tcpdump filter, OVS tunnel port type or None for the kernel's VXLAN)
KINDS = {
    "vxlan": ("udp port 4789", None),
    "geneve": ("udp port 6081", "geneve"),
    "gretap": ("ip proto 47", "gre"),
}


def _kernel_vxlan(ns):
    in_ns(ns, "ip", "link", "add", TUNNEL_IFACE, "address", MAC[ns], "type", "vxlan", "id", str(VNI),
          "local", UNDERLAY[ns], "remote", UNDERLAY[_peer(ns)], "dstport", "4789", "dev", UNDERLAY_IFACE)
    in_ns(ns, "ip", "addr", "add", f"{UNDERLAY[ns]}/24", "dev", UNDERLAY_IFACE)


def _ovs_tunnel(ns, port_type, state):
    """Open vSwitch's userspace datapath in `ns`: the daemons, br-ul on the veth, swy-tun."""
    d = Path(state, ns)
    d.mkdir()
    run("ovsdb-tool", "create", str(d / "conf.db"), "/usr/share/openvswitch/vswitch.ovsschema")
    in_ns(ns, "ovsdb-server", str(d / "conf.db"), f"--remote=punix:{d}/db.sock", f"--pidfile={d}/ovsdb-server.pid",
          f"--unixctl={d}/ovsdb-server.ctl", f"--log-file={d}/ovsdb-server.log", "--detach")
    in_ns(ns, "ovs-vswitchd", f"unix:{d}/db.sock", f"--pidfile={d}/ovs-vswitchd.pid",
          f"--unixctl={d}/ovs-vswitchd.ctl", f"--log-file={d}/ovs-vswitchd.log", "--detach")
    vsctl = ["ovs-vsctl", f"--db=unix:{d}/db.sock", "--timeout=10"]
    in_ns(ns, *vsctl, "--no-wait", "init")
    in_ns(ns, *vsctl, "add-br", "br-ul", "--", "set", "bridge", "br-ul", "datapath_type=netdev",
          f"other-config:hwaddr={BRIDGE_MAC[ns]}")
    in_ns(ns, *vsctl, "add-port", "br-ul", UNDERLAY_IFACE)
    in_ns(ns, "ip", "addr", "add", f"{UNDERLAY[ns]}/24", "dev", "br-ul")
    in_ns(ns, "ip", "link", "set", "br-ul", "up")
    in_ns(ns, *vsctl, "add-br", TUNNEL_IFACE, "--", "set", "bridge", TUNNEL_IFACE, "datapath_type=netdev",
          f"other-config:hwaddr={MAC[ns]}")
    in_ns(ns, *vsctl, "add-port", TUNNEL_IFACE, "tun0", "--", "set", "interface", "tun0", f"type={port_type}",
          f"options:remote_ip={UNDERLAY[_peer(ns)]}", f"options:key={VNI}")
    # OVS leaves the internal port at 1500; leave room for the outer headers as the kernel does.
    in_ns(ns, "ip", "link", "set", TUNNEL_IFACE, "mtu", "1450")


def _stop_ovs(state):
    """SIGTERM the daemons this run started, by the pids in their pid files."""
    for pidfile in sorted(Path(state).glob("*/*.pid")):
        with contextlib.suppress(ValueError, OSError):
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGTERM)
    time.sleep(0.3)


def run(*args):
    subprocess.run(args, check=True, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)


def in_ns(ns, *args):
    run("ip", "netns", "exec", ns, *args)


def _delete():
    for ns in (CLIENT_NS, SERVER_NS):
        subprocess.run(["ip", "netns", "del", ns], stdin=subprocess.DEVNULL, capture_output=True, timeout=10)


@contextlib.contextmanager
def tunnel_pair(kind):
    """Build both namespaces with a `kind` tunnel between them; delete them on the way out."""
    _, port_type = KINDS[kind]
    _delete()                      # left over from an interrupted run
    state = tempfile.mkdtemp(prefix="swy-ovs-")
    try:
        for ns in (CLIENT_NS, SERVER_NS):
            run("ip", "netns", "add", ns)
            for key in ("all", "default"):
                in_ns(ns, "sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1")
            in_ns(ns, "ip", "link", "set", "lo", "up")
        run("ip", "link", "add", "swy-veth-c", "address", UNDERLAY_MAC[CLIENT_NS], "netns", CLIENT_NS,
            "type", "veth", "peer", "name", "swy-veth-s", "address", UNDERLAY_MAC[SERVER_NS], "netns", SERVER_NS)
        for ns, name in ((CLIENT_NS, "swy-veth-c"), (SERVER_NS, "swy-veth-s")):
            in_ns(ns, "ip", "link", "set", name, "name", UNDERLAY_IFACE)
            in_ns(ns, "ip", "link", "set", UNDERLAY_IFACE, "up")
        for ns in (CLIENT_NS, SERVER_NS):
            if port_type:
                _ovs_tunnel(ns, port_type, state)
            else:
                _kernel_vxlan(ns)
            in_ns(ns, "ip", "addr", "add", f"{INNER[ns]}/24", "dev", TUNNEL_IFACE)
            in_ns(ns, "ip", "link", "set", TUNNEL_IFACE, "up")
            in_ns(ns, "ip", "neigh", "replace", INNER[_peer(ns)], "lladdr", MAC[_peer(ns)],
                  "dev", TUNNEL_IFACE, "nud", "permanent")
        yield
    finally:
        _stop_ovs(state)
        _delete()
        shutil.rmtree(state, ignore_errors=True)


def capture_command(kind, out):
    """tcpdump on the client's underlay veth, recording only the tunnel's packets."""
    return ["ip", "netns", "exec", CLIENT_NS, "tcpdump", "-Z", "root", "-i", UNDERLAY_IFACE,
            "--immediate-mode", "-U", "-s", "0", "-w", str(out), KINDS[kind][0]]


def peer_command(argv):
    """Run the scenario's child process in the server namespace (its listener lives there)."""
    return ["ip", "netns", "exec", SERVER_NS, *argv]


_CLONE_NEWNET = 0x40000000


@contextlib.contextmanager
def entered(ns):
    """This thread in namespace `ns` (setns(2) on a network namespace is per thread), then back."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if libc.setns(target, _CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {ns}")
        try:
            yield
        finally:
            if libc.setns(home, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(target)
        os.close(home)
