"""A server that hangs: a loopback TCP listener that accepts every connection and never reads or answers, the way a
stuck S3 (or a dead load balancer in front of it) looks to a client whose connect succeeds."""

from __future__ import annotations

import socket
import threading


class BlackHole:
    """`with BlackHole() as hole:` listens on 127.0.0.1 (`port`, or a free one) until the block ends."""

    def __init__(self, port: int = 0) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # take over a port another server just left
        self._sock.bind(("127.0.0.1", port))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.accepted: list[socket.socket] = []  # held open, never read: the client waits for an answer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name=f"black-hole-{self.port}", daemon=True)

    def _accept(self) -> None:
        self._sock.settimeout(0.1)  # a blocking accept() would not notice the stop
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(conn)

    def __enter__(self) -> BlackHole:
        self._sock.listen(128)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()
        for conn in self.accepted:
            conn.close()
