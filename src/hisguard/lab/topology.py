"""The lab hospital: networks, hosts, their roles and the non-compliance seeded on purpose."""

from dataclasses import dataclass

LABEL = "hisguard.lab"
CONTAINER_PREFIX = "hisguard-"
DOMAIN = "lab.internal"


@dataclass(frozen=True)
class Network:
    name: str
    subnet: str
    gateway: str  # the controller's own address on the bridge


# The hospital intranet, and the simulated Internet on an RFC 5737 documentation range.
INTRANET = Network("hisguard-intranet", "10.77.10.0/24", "10.77.10.1")
INTERNET = Network("hisguard-inet", "198.51.100.0/24", "198.51.100.1")
NETWORKS = (INTRANET, INTERNET)


@dataclass(frozen=True)
class LabHost:
    name: str
    role: str  # provisioning script in provision/<role>.sh ("" for none)
    groups: tuple[str, ...]
    intranet_ip: str | None = None
    internet_ip: str | None = None
    seeds: tuple[str, ...] = ()  # deliberate non-compliance, see provision/workstation.sh
    default_route: str | None = None

    @property
    def container(self) -> str:
        return CONTAINER_PREFIX + self.name

    def mac(self, ip: str) -> str:
        """A fixed, locally administered MAC per interface, so the IP register can name it."""
        return "02:4c:" + ":".join(f"{int(octet):02x}" for octet in ip.split("."))

    @property
    def address(self) -> str:
        """The address the controller uses."""
        return self.intranet_ip or self.internet_ip or ""


INET_GW_INTRANET = "10.77.10.2"
INET_GW_INTERNET = "198.51.100.2"
CANARY_IP = "198.51.100.80"

WORKSTATIONS = ("workstations", "intranet")
HOSTS = (
    LabHost("mirror", "mirror", ("servers", "mirrors", "intranet"), intranet_ip="10.77.10.12"),
    LabHost(
        "srv-backup",
        "backup",
        ("servers", "backup_servers", "log_servers", "intranet"),
        intranet_ip="10.77.10.11",
    ),
    LabHost("srv-his", "his_db", ("servers", "his_db", "intranet"), intranet_ip="10.77.10.10"),
    LabHost("ws-01", "workstation", WORKSTATIONS, intranet_ip="10.77.10.21"),
    LabHost(
        "ws-02",
        "workstation",
        WORKSTATIONS,
        intranet_ip="10.77.10.22",
        seeds=("usb_storage_allowed", "no_antivirus"),
    ),
    LabHost(
        "ws-03",
        "workstation",
        WORKSTATIONS,
        intranet_ip="10.77.10.23",
        seeds=("internet_route", "remote_desktop"),
        default_route=INET_GW_INTRANET,
    ),
    LabHost(
        "ws-04",
        "workstation",
        WORKSTATIONS,
        intranet_ip="10.77.10.24",
        seeds=("unapproved_package", "shared_account"),
    ),
    # A rogue gateway (a 4G router someone plugged in) and a host "on the Internet".
    LabHost("inet-gw", "", ("internet_zone",), intranet_ip=INET_GW_INTRANET, internet_ip=INET_GW_INTERNET),
    LabHost(
        "inet-canary", "canary", ("internet_zone",), internet_ip=CANARY_IP, default_route=INET_GW_INTERNET
    ),
)
GROUPS = (
    "workstations",
    "servers",
    "his_db",
    "backup_servers",
    "log_servers",
    "mirrors",
    "intranet",
    "internet_zone",
    "network_devices",
)


def host(name: str) -> LabHost:
    return next(h for h in HOSTS if h.name == name)


def hosts_entries() -> list[str]:
    """--add-host entries: every lab host by short and intranet-domain name."""
    entries = []
    for h in HOSTS:
        if h.intranet_ip:
            entries.append(f"{h.name}.{DOMAIN}:{h.intranet_ip}")
            entries.append(f"{h.name}:{h.intranet_ip}")
    return entries
