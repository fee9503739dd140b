"""When a request arrived: the kernel's account of a connection that waited in the backlog."""

from __future__ import annotations

import socket
import time

import pytest

from core.deadline import Deadline, DeadlinePassed
from core.receipt import arrival_wait_ms, received_at


def test_the_wait_in_the_backlog_is_read_from_the_socket():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    client = socket.create_connection(listener.getsockname())
    client.sendall(b"POST /lithic/asa/ HTTP/1.1\r\n\r\n")
    time.sleep(0.3)  # all workers busy: nobody accepts it yet
    accepted, _ = listener.accept()
    try:
        waited = arrival_wait_ms(accepted)
        assert waited is not None and 250 <= waited <= 2000
        arrived = received_at({"gunicorn.socket": accepted})
        assert 0.25 <= time.monotonic() - arrived <= 2.0
    finally:
        for sock in (accepted, client, listener):
            sock.close()


def test_without_a_socket_the_request_arrived_now():
    assert arrival_wait_ms(None) is None
    assert abs(received_at({}) - time.monotonic()) < 0.05


def test_a_deadline_counts_from_the_arrival():
    deadline = Deadline.after(500, start=time.monotonic() - 0.2)
    assert 250 <= deadline.remaining_ms() <= 300
    assert not deadline.passed
    late = Deadline.after(100, start=time.monotonic() - 0.2)
    assert late.passed and late.remaining_ms() == 0
    with pytest.raises(DeadlinePassed, match="100 ms deadline passed before locking"):
        late.check("locking")
