"""The limit for Python: the same relay on plain asyncio + `websockets`, no framework.

    python bench/signaling_support/plain_relay.py PORT

Same path and frames as the bare Channels relay: welcome (with the peers
already there), `peer-joined` to those peers, `signal` relayed to the other
participant as {"type": "signal", "from": id, "data": ...}, `ping` -> `pong`.
No compression (Daphne does not negotiate permessage-deflate either) and the
library's default keepalive pings (every 20 s), like Daphne's defaults.
"""

import asyncio
import contextlib
import itertools
import json
import signal
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

PREFIX, SUFFIX = "/ws/rooms/", "/"
ROOMS: dict[str, list] = {}
_ids = itertools.count(1)


class Member:
    __slots__ = ("id", "ws")

    def __init__(self, ident, ws):
        self.id, self.ws = ident, ws


async def handler(ws):
    path = ws.request.path
    if not (path.startswith(PREFIX) and path.endswith(SUFFIX)) or len(path) <= len(PREFIX) + 1:
        await ws.close(4404)
        return
    code = path[len(PREFIX) : -len(SUFFIX)]
    me = Member(next(_ids), ws)
    members = ROOMS.setdefault(code, [])
    peers = list(members)
    members.append(me)
    try:
        await ws.send(
            json.dumps(
                {"type": "welcome", "self": {"id": me.id}, "peers": [{"id": p.id} for p in peers]}
            )
        )
        joined = json.dumps({"type": "peer-joined", "peer": {"id": me.id}})
        for peer in peers:
            await _send(peer, joined)
        async for text in ws:
            frame = json.loads(text)
            kind = frame.get("type")
            if kind == "signal":
                out = json.dumps({"type": "signal", "from": me.id, "data": frame["data"]})
                for peer in ROOMS.get(code, ()):
                    if peer is not me:
                        await _send(peer, out)
            elif kind == "ping":
                await ws.send(json.dumps({"type": "pong", "id": frame.get("id")}))
    except ConnectionClosed:
        pass
    finally:
        members = ROOMS.get(code)
        if members is not None:
            members[:] = [m for m in members if m is not me]
            if not members:
                ROOMS.pop(code, None)


async def _send(peer, text):
    with contextlib.suppress(ConnectionClosed):
        await peer.ws.send(text)


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.cancel)
    async with serve(handler, "127.0.0.1", port, compression=None):
        with contextlib.suppress(asyncio.CancelledError):
            await stop


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
