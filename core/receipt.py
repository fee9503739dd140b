"""When a request arrived: the moment its deadline counts from.

Under gunicorn a request can wait in the listen backlog (all workers busy) before a worker even
accepts it; the time Django starts handling it is too late a start for a deadline that Lithic's
clock is already running. The kernel knows better: `TCP_INFO.tcpi_last_data_recv` is how long
ago the last bytes of the request arrived on the socket, backlog wait included. Where that
cannot be read (not Linux, not TCP, not gunicorn: the test client, runserver), the request is
taken to have arrived now.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Any

# struct tcp_info (linux/tcp.h): eight u8 fields, then u32 fields; tcpi_last_data_recv is the
# twelfth u32, in milliseconds.
_TCP_INFO_LENGTH = 104
_LAST_DATA_RECV = struct.Struct("=I")
_LAST_DATA_RECV_OFFSET = 8 + 11 * 4
# A reading past this is not a queued request but a socket that is not what we think.
_MAX_PLAUSIBLE_WAIT_MS = 600_000


def arrival_wait_ms(sock: Any) -> int | None:
    """Milliseconds since the last bytes arrived on `sock`, or None where it cannot be read."""
    tcp_info = getattr(socket, "TCP_INFO", None)
    if sock is None or tcp_info is None:
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, tcp_info, _TCP_INFO_LENGTH)
    except (OSError, AttributeError, TypeError):
        return None
    if len(info) < _LAST_DATA_RECV_OFFSET + _LAST_DATA_RECV.size:
        return None
    (waited,) = _LAST_DATA_RECV.unpack_from(info, _LAST_DATA_RECV_OFFSET)
    return waited if waited <= _MAX_PLAUSIBLE_WAIT_MS else None


def received_at(environ: dict[str, Any]) -> float:
    """When the request arrived, on the time.monotonic() clock."""
    now = time.monotonic()
    waited = arrival_wait_ms(environ.get("gunicorn.socket"))
    return now if waited is None else now - waited / 1000
