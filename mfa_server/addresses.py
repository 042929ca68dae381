"""IP addresses and CIDR networks: parsing and membership, shared by proxy trust and network policies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(values: Iterable[str]) -> tuple[IpNetwork, ...]:
    """Parse CIDRs (host bits may be set; a bare address is a /32 or /128). Raises ``ValueError``."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values if value.strip())


@lru_cache(maxsize=4096)  # every request parses its peer and proxies' addresses a few times over
def parse_ip(value: str | None) -> IpAddress | None:
    """An address (``[v6]`` brackets allowed), IPv4-mapped IPv6 unwrapped; None when absent or invalid."""
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.strip().removeprefix("[").split("]")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def in_networks(address: IpAddress, networks: Iterable[IpNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in networks)
