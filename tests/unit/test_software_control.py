"""roles/software_control/files/software_inventory.py: parsing, tool matching, approval, removal plan."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "roles" / "software_control" / "files" / "software_inventory.py"
_spec = importlib.util.spec_from_file_location("software_inventory", SCRIPT)
si = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(si)

DEFAULTS = yaml.safe_load((ROOT / "roles" / "software_control" / "defaults" / "main.yml").read_text())
TOOLS = si.validate_tools(DEFAULTS["software_control_denied_remote_tools"])


def tool(name):
    return next(t for t in TOOLS if t["name"] == name)


# --------------------------------------------------------------------------- inputs


def test_default_tools_are_valid_and_cover_the_brief():
    names = {t["name"] for t in TOOLS}
    assert {"teamviewer", "anydesk", "sunlogin", "todesk", "x11vnc", "tigervnc", "tightvnc", "xrdp"} <= names
    assert (3389, "tcp") in tool("xrdp")["ports"]
    assert [(p, "tcp") for p in range(5900, 5910)] == [p for p in tool("vnc-port")["ports"] if p[0] >= 5900]


def test_default_baseline_is_the_lab_image():
    approved = DEFAULTS["software_control_approved_packages"]
    for name in ("his-client", "openssh-server", "postgresql-15", "clamav", "usbguard", "restic", "python3"):
        assert name in approved
    for name in ("telnet", "inetutils-telnet", "sunloginclient"):
        assert not si.matches(name, approved)
    assert si.matches("linux-image-6.1.0-28-amd64", approved)


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        ([5900], [(5900, None)]),
        (["5900-5902"], [(5900, None), (5901, None), (5902, None)]),
        (["3389/tcp", "3389/UDP"], [(3389, "tcp"), (3389, "udp")]),
        ([], []),
        (None, []),
    ],
)
def test_parse_ports(specs, expected):
    assert si.parse_ports(specs) == expected


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["vnc"], "'vnc' is not a port"),
        (["5909-5900"], "not within 1-65535"),
        ([0], "not within 1-65535"),
        (["70000"], "not within 1-65535"),
        (["3389/sctp"], "protocol 'sctp'"),
    ],
)
def test_parse_ports_rejects(specs, message):
    with pytest.raises(ValueError) as info:
        si.parse_ports(specs, "software_control_denied_remote_tools xrdp.ports")
    assert message in str(info.value)
    assert "xrdp.ports" in str(info.value)


@pytest.mark.parametrize(
    ("tools", "message"),
    [
        ("anydesk", "must be a list"),
        ([{"packages": ["anydesk"]}], "#1 needs a `name`"),
        ([{"name": "a", "package": ["x"]}], "unknown key(s) package"),
        ([{"name": "a", "packages": "anydesk"}], "a.packages must be a list"),
        ([{"name": "a"}], "give at least one of packages, processes, units or ports"),
        ([{"name": "a", "ports": [1]}, {"name": "a", "ports": [2]}], "the name is used twice"),
        ([{"name": "a", "ports": ["x"]}], "software_control_denied_remote_tools a.ports: 'x'"),
    ],
)
def test_validate_tools_names_the_entry(tools, message):
    with pytest.raises(ValueError) as info:
        si.validate_tools(tools)
    assert message in str(info.value)


def test_matches_is_case_insensitive_glob():
    assert si.matches("TeamViewer_Desktop", ["teamviewer*"])
    assert si.matches("ToDesk_Service", ["todesk*"])
    assert not si.matches("todo", ["todesk*"])


# --------------------------------------------------------------------------- parsing host output


def test_parse_dpkg_query_keeps_present_packages():
    text = (
        "telnet\t0.17+2.4-2+deb12u3\tinstalled\n"
        "clamav\t1.4.3\tconfig-files\n"
        "broken\t1.0\thalf-configured\n"
        "gone\t\tnot-installed\n"
        "garbage line\n"
    )
    packages = si.parse_dpkg_query(text)
    assert sorted(packages) == ["broken", "telnet"]
    assert packages["telnet"] == {"name": "telnet", "version": "0.17+2.4-2+deb12u3", "status": "installed"}


def test_parse_units_and_unit_files():
    files = (
        "anydesk.service                 enabled         enabled\nvncserver@.service   disabled  enabled\n"
    )
    assert si.parse_unit_files(files) == {"anydesk.service": "enabled", "vncserver@.service": "disabled"}
    units = (
        "anydesk.service     loaded    active   running AnyDesk\n"
        "connman.service     not-found inactive dead    connman.service\n"
        "● xrdp.service      loaded    failed   failed  xrdp daemon\n"
    )
    parsed = si.parse_units(units)
    assert parsed["anydesk.service"] == {"load": "loaded", "active": "active", "sub": "running"}
    assert parsed["connman.service"]["load"] == "not-found"
    assert parsed["xrdp.service"]["active"] == "failed"


def test_parse_systemctl_show_blocks():
    text = (
        "Id=anydesk.service\nFragmentPath=/etc/systemd/system/anydesk.service\nActiveState=active\n\n"
        "Id=xrdp.service\nFragmentPath=/lib/systemd/system/xrdp.service\nActiveState=inactive\n"
    )
    shown = si.parse_systemctl_show(text)
    assert shown["anydesk.service"]["FragmentPath"] == "/etc/systemd/system/anydesk.service"
    assert shown["xrdp.service"]["ActiveState"] == "inactive"


PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1B9E 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41234 1 0
   1: 00000000:0D3D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41235 1 0
   2: 0100007F:0050 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 41236 1 0
"""
ANY6 = "0" * 32
LOOPBACK6 = "0" * 24 + "01000000"
PROC_NET_TCP6 = (
    "  sl  local_address                         remote_address                        st tx_queue rx_queue\n"
    f"   0: {ANY6}:170C {ANY6}:0000 0A 00000000:00000000 00:00000000 00000000     0        0 51234 1 0\n"
    f"   1: {LOOPBACK6}:1B9E {ANY6}:0000 0A 00000000:00000000 00:00000000 00000000     0        0 51235 1 0\n"
)


def test_parse_proc_net_listeners():
    sockets = si.parse_proc_net(PROC_NET_TCP, "tcp")
    assert [(s["address"], s["port"], s["inode"]) for s in sockets] == [
        ("127.0.0.1", 7070, "41234"),
        ("0.0.0.0", 3389, "41235"),
    ]  # the established connection on port 80 is not a listener
    six = si.parse_proc_net(PROC_NET_TCP6, "tcp6")
    assert [(s["proto"], s["address"], s["port"]) for s in six] == [
        ("tcp", "::", 5900),
        ("tcp", "::1", 7070),
    ]


def test_parse_proc_net_udp_bound():
    text = "  sl  local_address rem_address   st\n   0: 00000000:170C 00000000:0000 07 0 0 0 0 0 0 777 1\n"
    assert si.parse_proc_net(text, "udp")[0]["port"] == 5900


def test_parse_dpkg_search_and_aliases():
    text = (
        "x11vnc: /usr/bin/x11vnc\n"
        "xrdp: /lib/systemd/system/xrdp.service\n"
        "diversion by dash from: /bin/sh\n"
        "dpkg-query: no path found matching pattern /opt/anydesk/anydesk\n"
        "libc6:amd64, libc6-dbg:amd64: /lib/x86_64-linux-gnu/libc.so.6\n"
    )
    owners = si.parse_dpkg_search(text)
    assert owners["/usr/bin/x11vnc"] == ["x11vnc"]
    assert owners["/lib/systemd/system/xrdp.service"] == ["xrdp"]
    assert owners["/lib/x86_64-linux-gnu/libc.so.6"] == ["libc6", "libc6-dbg"]
    assert "/bin/sh" not in owners
    assert si.path_aliases("/usr/lib/systemd/system/xrdp.service") == [
        "/usr/lib/systemd/system/xrdp.service",
        "/lib/systemd/system/xrdp.service",
    ]
    assert si.path_aliases("/opt/x") == ["/opt/x"]


def test_parse_purge_simulation():
    text = "Purg telnet [0.17]\nRemv libfoo [1]\nInst alternative (2 bookworm [all])\nConf alternative (2)\n"
    assert si.parse_purge_simulation(text) == {"removes": ["telnet", "libfoo"], "installs": ["alternative"]}


# --------------------------------------------------------------------------- matching and evaluation

PACKAGES = {
    name: {"name": name, "version": "1", "status": "installed"}
    for name in ("bash", "his-client", "sunloginclient", "telnet", "inetutils-telnet", "x11vnc")
}


def process(pid, *names, exe=None, packages=()):
    return {"pid": pid, "names": list(names), "exe": exe, "packages": list(packages)}


def test_match_tools_by_each_kind():
    processes = [
        process(10, "anydesk", "python3.11", "python3", exe="/usr/bin/python3.11"),
        process(11, "bash", exe="/usr/bin/bash"),
        process(12, "x11vnc", exe="/usr/bin/x11vnc", packages=["x11vnc"]),
    ]
    units = [
        {
            "name": "anydesk.service",
            "load": "loaded",
            "active": "active",
            "file_state": "enabled",
            "packages": [],
        },
        {
            "name": "xrdp.service",
            "load": "not-found",
            "active": "inactive",
            "file_state": "-",
            "packages": [],
        },
        {"name": "teamviewerd.service", "load": "loaded", "active": "inactive", "file_state": "masked"},
    ]
    sockets = [
        {"proto": "tcp", "address": "127.0.0.1", "port": 7070, "pid": 10, "process": "anydesk"},
        {"proto": "tcp", "address": "0.0.0.0", "port": 5901, "pid": 99, "process": "python3"},
        {"proto": "udp", "address": "0.0.0.0", "port": 3389, "pid": 98, "process": "x"},
    ]
    found, approved = si.match_tools(TOOLS, PACKAGES, processes, units, sockets)
    by_name = {hit["name"]: hit for hit in found}
    assert sorted(by_name) == ["anydesk", "sunlogin", "vnc-port", "x11vnc"]
    assert [p["pid"] for p in by_name["anydesk"]["processes"]] == [10]
    assert [u["name"] for u in by_name["anydesk"]["units"]] == ["anydesk.service"]
    assert [s["port"] for s in by_name["anydesk"]["ports"]] == [7070]
    assert by_name["anydesk"]["packages"] == []  # python3.11 is not the tool's package
    assert by_name["sunlogin"]["packages"] == ["sunloginclient"]
    assert by_name["x11vnc"]["packages"] == ["x11vnc"]
    assert [s["port"] for s in by_name["vnc-port"]["ports"]] == [5901]
    # masked and not-found units do not count; xrdp's port is tcp only
    assert "teamviewer" not in by_name and "xrdp" not in by_name
    assert approved == []


def test_match_tools_owner_package_joins_the_tool():
    units = [
        {
            "name": "vncserver@:1.service",
            "load": "loaded",
            "active": "active",
            "file_state": "enabled",
            "packages": ["tigervnc-common"],
        }
    ]
    found, _ = si.match_tools(TOOLS, {}, [], units, [])
    assert found[0]["name"] == "tigervnc" and found[0]["packages"] == ["tigervnc-common"]


def test_approved_remote_tool_is_not_a_finding():
    processes = [process(20, "xrdp", exe="/usr/sbin/xrdp")]
    found, approved = si.match_tools(TOOLS, {}, processes, [], [], approved_tools=["xrdp"])
    assert found == [] and approved == ["xrdp"]


def test_unapproved_packages():
    approved = ["bash", "his-*", "inetutils-telnet"]
    unapproved = si.unapproved_packages(PACKAGES, approved, excluded={"sunloginclient", "x11vnc"})
    assert [p["name"] for p in unapproved] == ["telnet"]


def test_removal_plan_and_blocked():
    hits = [{"packages": ["sunloginclient"]}, {"packages": ["x11vnc"]}]
    unapproved = [{"name": "telnet"}]
    assert si.removal_packages(hits, unapproved, False) == ["sunloginclient", "x11vnc"]
    assert si.removal_packages(hits, unapproved, True) == ["sunloginclient", "telnet", "x11vnc"]
    # purging inetutils-telnet takes telnet along; telnet is approved for this group
    assert si.blocked_removals(["inetutils-telnet"], ["inetutils-telnet", "telnet"], ["bash", "telnet"]) == [
        "telnet"
    ]
    assert si.blocked_removals(["telnet"], ["telnet"], ["bash"]) == []


def test_evaluate():
    clean = si.evaluate({"installed_count": 234, "unapproved": [], "remote_tools": [], "units_checked": True})
    assert clean["problems"] == []
    assert clean["good"] == [
        "no remote-desktop tool found by package, process, unit or listening port",
        "all 234 installed packages are on the approved list",
    ]
    hit = {
        "name": "anydesk",
        "packages": [],
        "processes": [process(10, "anydesk", exe="/usr/bin/python3.11")],
        "units": [{"name": "anydesk.service", "active": "active", "file_state": "enabled"}],
        "ports": [{"proto": "tcp", "address": "127.0.0.1", "port": 7070, "process": "anydesk"}],
    }
    dirty = si.evaluate(
        {"unapproved": [{"name": "telnet", "version": "0.17"}], "remote_tools": [hit], "units_checked": True}
    )
    assert dirty["problems"] == [
        "remote-desktop tool anydesk: process anydesk (pid 10, /usr/bin/python3.11); "
        "unit anydesk.service (active, enabled); listening 7070/tcp on 127.0.0.1 by anydesk",
        "1 package(s) not on the approved list: telnet 0.17",
    ]
    many = [{"name": f"p{i}", "version": "1"} for i in range(30)]
    text = si.evaluate({"unapproved": many, "remote_tools": []})["problems"][0]
    assert text.startswith("30 package(s)") and text.endswith("and 5 more (all in the evidence)")
    assert si.evaluate({"errors": ["dpkg-query failed"], "unapproved": [], "remote_tools": []})["good"] == []


# --------------------------------------------------------------------------- the script's command line


def run_script(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False)


def test_script_rejects_bad_tools_with_a_message():
    proc = run_script(json.dumps({"denied_tools": [{"name": "vnc", "ports": ["59xx"]}]}))
    assert proc.returncode == 2
    assert "software_control_denied_remote_tools vnc.ports: '59xx'" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    proc = run_script(json.dumps({"approved_packages": "bash"}))
    assert proc.returncode == 2 and "software_control_approved_packages must be a list" in proc.stderr
