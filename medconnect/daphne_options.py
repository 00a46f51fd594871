"""One WebSocket option Daphne does not expose.

The signaling protocol promises close code 1009 for a frame over the 1 MiB
hard cap. Autobahn, under Daphne, "fails by drop" by default: it cuts the TCP
connection without a close frame, so the browser sees 1006 and retries as if
the network had failed. With failByDrop off it sends the 1009 close frame
first. Daphne builds its factory after importing the application, so setting
the default here takes effect for `daphne medconnect.asgi:application`.
"""

try:
    from autobahn.websocket.protocol import WebSocketServerFactory
except ImportError:  # not served by Daphne (e.g. tests with WebsocketCommunicator)
    WebSocketServerFactory = None


def close_oversized_frames_with_1009() -> None:
    if WebSocketServerFactory is None or getattr(WebSocketServerFactory, "_medconnect", False):
        return
    reset = WebSocketServerFactory.resetProtocolOptions

    def reset_protocol_options(self):
        reset(self)
        self.failByDrop = False

    WebSocketServerFactory.resetProtocolOptions = reset_protocol_options
    WebSocketServerFactory._medconnect = True
