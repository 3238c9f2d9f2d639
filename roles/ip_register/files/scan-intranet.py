#!/usr/bin/python3
"""Read-only sweep of intranet networks for the ip_register role (P1.3.5): which addresses answer, and
their MACs.

Usage: scan-intranet.py [--port 22] [--timeout 1.5] [--exclude OWN_ADDRESS]... NETWORK...
Sends one ICMP echo (raw or unprivileged ICMP socket, whichever is allowed) and one TCP connect to
--port to every address of the networks (at most 1024 addresses). An address is seen when it answers
either (an echo reply, or a TCP accept or reset); its MAC is then read from the neighbour table.
Prints JSON: {"seen": [{"address", "mac"}], "scanned": N, "icmp": "raw|dgram|unavailable", "seconds"}.
"""

import argparse
import contextlib
import errno
import ipaddress
import json
import os
import selectors
import socket
import struct
import sys
import time

MAX_ADDRESSES = 1024
BATCH = 256


def targets(networks, own):
    hosts = []
    for text in networks:
        hosts += [str(a) for a in ipaddress.ip_network(text, strict=True).hosts()]
    if len(hosts) > MAX_ADDRESSES:
        sys.exit(f"refusing to scan {len(hosts)} addresses (at most {MAX_ADDRESSES})")
    return [h for h in dict.fromkeys(hosts) if h not in own]


def checksum(data):
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def icmp_socket():
    for kind, name in ((socket.SOCK_RAW, "raw"), (socket.SOCK_DGRAM, "dgram")):
        try:
            return socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP), name
        except OSError:
            continue
    return None, "unavailable"


def icmp_send(sock, addresses):
    ident = os.getpid() & 0xFFFF
    for seq, address in enumerate(addresses):
        header = struct.pack("!BBHHH", 8, 0, 0, ident, seq & 0xFFFF)
        payload = b"hisguard-ip-register"
        packet = struct.pack("!BBHHH", 8, 0, checksum(header + payload), ident, seq & 0xFFFF) + payload
        with contextlib.suppress(OSError):  # unreachable at once: not seen
            sock.sendto(packet, (address, 0))


def icmp_replies(sock, kind, wanted):
    replies = set()
    while True:
        try:
            data, (source, _) = sock.recvfrom(2048)
        except (BlockingIOError, InterruptedError):
            return replies
        offset = (data[0] & 0x0F) * 4 if kind == "raw" else 0
        if len(data) > offset and data[offset] == 0 and source in wanted:
            replies.add(source)


def sweep(addresses, port, timeout):
    """Addresses that answered ICMP or TCP; `icmp` says which ICMP socket could be used."""
    wanted = set(addresses)
    answered = set()
    icmp, kind = icmp_socket()
    selector = selectors.DefaultSelector()
    if icmp:
        icmp.setblocking(False)
        selector.register(icmp, selectors.EVENT_READ, "icmp")
        icmp_send(icmp, addresses)
    for start in range(0, len(addresses), BATCH):
        pending = {}
        for address in addresses[start : start + BATCH]:
            conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            conn.setblocking(False)
            if conn.connect_ex((address, port)) in (0, errno.ECONNREFUSED):
                answered.add(address)
                conn.close()
                continue
            pending[conn] = address
            selector.register(conn, selectors.EVENT_WRITE, address)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for key, _ in selector.select(deadline - time.monotonic()):
                if key.data == "icmp":
                    answered |= icmp_replies(icmp, kind, wanted)
                    continue
                conn = key.fileobj
                if conn.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) in (0, errno.ECONNREFUSED):
                    answered.add(key.data)
                selector.unregister(conn)
                conn.close()
                del pending[conn]
        for conn in pending:
            selector.unregister(conn)
            conn.close()
    if icmp:
        answered |= icmp_replies(icmp, kind, wanted)
        icmp.close()
    return answered, kind


def neighbour_macs():
    """Address -> MAC from the kernel's neighbour table (complete entries only)."""
    macs = {}
    with open("/proc/net/arp", encoding="ascii") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if len(fields) >= 4 and int(fields[2], 16) & 0x2 and fields[3] != "00:00:00:00:00:00":
                macs[fields[0]] = fields[3].lower()
    return macs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=22)
    parser.add_argument("--timeout", type=float, default=1.5)
    parser.add_argument("--exclude", action="append", default=[], help="this host's own addresses")
    parser.add_argument("networks", nargs="+")
    args = parser.parse_args()
    began = time.monotonic()
    addresses = targets(args.networks, set(args.exclude))
    answered, kind = sweep(addresses, args.port, args.timeout)
    macs = neighbour_macs()
    seen = [{"address": a, "mac": macs.get(a)} for a in sorted(answered, key=ipaddress.ip_address)]
    seconds = round(time.monotonic() - began, 2)
    print(json.dumps({"seen": seen, "scanned": len(addresses), "icmp": kind, "seconds": seconds}))


if __name__ == "__main__":
    main()
