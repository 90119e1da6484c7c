"""The demo binds its kiosk socket itself (testbed/demo.py ``_bound``); asyncio must still turn
Nagle off on the connections it accepts, as on uvicorn's own sockets.

With Nagle on, an answer written in two parts (headers, then body) waited for the client's
delayed ACK on every request over a kept-alive connection: about 40 ms each, measured on the
demo's kiosk (the scripted morning polled it some four hundred times).
"""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor

from testbed.demo import _bound


def test_connections_to_the_demo_kiosk_socket_have_nagle_off() -> None:
    async def accepted_nodelay() -> int:
        got: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            got.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_client, sock=_bound(0))
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(got, 10)
        finally:
            writer.close()
            server.close()
            await server.wait_closed()

    # A loop of its own, on a thread of its own: a page test's Playwright may already run one on
    # this worker's main thread.
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(lambda: asyncio.run(accepted_nodelay())).result(30) != 0
