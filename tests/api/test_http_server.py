"""The server's transport layer: a response's writes of one loop turn leave together and in order."""

from __future__ import annotations

import asyncio
import socket

import uvloop

from easel.http_server import CoalescingTransport


class _Sink(asyncio.Protocol):
    """The server side's protocol: these tests only write."""


async def _pair() -> tuple[CoalescingTransport, asyncio.Transport, socket.socket, list[bytes]]:
    """A CoalescingTransport over a real uvloop TCP transport, the peer socket, and the list of sends."""
    loop = asyncio.get_running_loop()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    peer = socket.create_connection(listener.getsockname())
    server_side, _ = listener.accept()
    listener.close()
    server_side.setblocking(False)
    transport, _ = await loop.connect_accepted_socket(_Sink, server_side)
    sends: list[bytes] = []
    real_write = transport.write

    class _Counting:
        """Records each write that reaches the real transport, then performs it."""

        def __getattr__(self, name: str) -> object:
            return getattr(transport, name)

        def write(self, data: bytes) -> None:
            sends.append(bytes(data))
            real_write(data)

    return CoalescingTransport(_Counting(), loop), transport, peer, sends  # type: ignore[arg-type]


def _read_all(peer: socket.socket, expected: int) -> bytes:
    peer.settimeout(5)
    data = b""
    while len(data) < expected:
        chunk = peer.recv(65536)
        assert chunk, "the connection closed early"
        data += chunk
    return data


def test_head_and_body_of_one_turn_are_one_send() -> None:
    async def scenario() -> None:
        coalescing, transport, peer, sends = await _pair()
        coalescing.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        coalescing.write(b"{}")
        assert sends == []  # held until the turn ends
        await asyncio.sleep(0)
        assert sends == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
        coalescing.write(b"next")  # a later turn starts a new send
        await asyncio.sleep(0)
        assert sends[1:] == [b"next"]
        await asyncio.sleep(0.05)  # uvloop sends its own buffer at the end of a turn too
        expected = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}next"
        assert _read_all(peer, len(expected)) == expected
        transport.close()
        peer.close()

    uvloop.run(scenario())


def test_large_writes_go_straight_through_after_what_is_held() -> None:
    async def scenario() -> None:
        coalescing, transport, peer, sends = await _pair()
        big = b"x" * (CoalescingTransport.DIRECT_BYTES + 1)
        coalescing.write(b"head")
        coalescing.write(big)
        assert sends == [b"head", big]  # no copy of the large chunk, and the order is kept
        await asyncio.sleep(0.05)
        assert _read_all(peer, len(big) + 4) == b"head" + big
        transport.close()
        peer.close()

    uvloop.run(scenario())


def test_close_sends_what_is_held_first() -> None:
    async def scenario() -> None:
        coalescing, _transport, peer, sends = await _pair()
        coalescing.write(b"HTTP/1.1 500 Internal Server Error\r\nconnection: close\r\n\r\n")
        coalescing.close()
        assert coalescing.is_closing()
        await asyncio.sleep(0.05)
        peer.settimeout(5)
        received = b""
        while chunk := peer.recv(65536):
            received += chunk
        assert received.startswith(b"HTTP/1.1 500")  # then EOF: nothing was lost to the close
        assert len(sends) == 1
        coalescing.write(b"late")  # after close: dropped at the end of the turn, no error
        await asyncio.sleep(0)
        assert len(sends) == 1
        peer.close()

    uvloop.run(scenario())


def test_other_transport_calls_see_held_data_sent() -> None:
    async def scenario() -> None:
        coalescing, transport, peer, sends = await _pair()
        coalescing.write(b"abc")
        assert coalescing.get_extra_info("peername") is not None
        assert sends == [b"abc"]  # flushed before the call went through
        transport.close()
        peer.close()

    uvloop.run(scenario())
