"""HTTP/1.1 over a raw socket, for the tests that send what no HTTP library would:
responses are parsed strictly from the bytes, so a body sent where none belongs
(a HEAD answer's) shows up as a malformed next response."""

import os
import re
import socket
from typing import NamedTuple

_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-5][0-9][0-9]) [^\r\n]*")


class Framing(AssertionError):
    """The bytes on the connection are not a well-formed sequence of responses."""


class RawResponse(NamedTuple):
    status: int
    headers: dict  # lower-case names
    body: bytes


class RawConnection:
    def __init__(self, port, timeout=2.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = bytearray()
        self.pos = 0  # where the unread bytes of `buffer` start
        self.closed = False  # the server closed its side

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True

    def _fill(self):
        """Read more bytes; False when the server has closed (or reset) the connection."""
        try:
            chunk = self.sock.recv(262144)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        if self.pos > 65536:  # drop what has been read, now and then (not per response)
            del self.buffer[:self.pos]
            self.pos = 0
        self.buffer += chunk
        return True

    def _take(self, count):
        data = bytes(self.buffer[self.pos:self.pos + count])
        self.pos += count
        return data

    def _unread(self):
        return len(self.buffer) - self.pos

    def read_response(self, head=False):
        """The next response (`head`: one to a HEAD request, so without a body), or
        None when the server closed the connection before sending one. Raises
        socket.timeout when nothing complete arrives in time, Framing on bad bytes."""
        while (end := self.buffer.find(b"\r\n\r\n", self.pos)) < 0:
            if self._unread() > 65536:
                raise Framing(f"no end of headers in {self._take(200)!r}")
            if not self._fill():
                if self._unread():
                    raise Framing(f"connection closed inside a response: {self._take(200)!r}")
                return None
        lines = self._take(end - self.pos).split(b"\r\n")
        self.pos += 4
        match = _STATUS_LINE.fullmatch(lines[0])
        if match is None:
            raise Framing(f"not a status line: {lines[0][:200]!r}")
        headers = {}
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip():
                raise Framing(f"not a header line: {line[:200]!r}")
            headers[name.decode("latin-1").lower()] = value.strip().decode("latin-1")
        status = int(match.group(1))
        if head or status in (204, 304) or status < 200:
            return RawResponse(status, headers, b"")
        if "content-length" in headers:
            length = int(headers["content-length"])
            while self._unread() < length:
                if not self._fill():
                    raise Framing(f"connection closed after {self._unread()} of {length} body bytes")
            return RawResponse(status, headers, self._take(length))
        if "transfer-encoding" in headers:
            raise Framing(f"unexpected Transfer-Encoding: {headers['transfer-encoding']}")
        # No length: the body runs to the end of the connection.
        while self._fill():
            pass
        return RawResponse(status, headers, self._take(self._unread()))

    def close(self):
        self.sock.close()


def request(method, target, headers=(), host="127.0.0.1", body=b""):
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def children(pid):
    """Process ids whose parent is `pid`."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listing:
            return [int(child) for child in listing.read().split()]
    except OSError:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as stat:
                        fields = stat.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == pid:
                    found.append(int(entry))
        return found


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise ValueError(f"no VmRSS for {pid}")
