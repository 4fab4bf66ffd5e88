"""The Python reference stack of the minmax protocol, as the assignment's peers build it.

Framing is `len(data).to_bytes(4, "big") + data` with `data = json.dumps(msg).encode()`
(docs/PROTOCOL.md section 1); numbers of an encrypted session are
`base64(AES-ECB(key, "%16d" % n))` with pycryptodome (section 5). Nothing here is
clever on purpose: this is the stack minmax must be indistinguishable from.
"""

import base64
import json
import socket

from Crypto.Cipher import AES


def encode_frame(msg):
    """The bytes of one frame carrying `msg`, exactly as the assignment's peers send it."""
    data = json.dumps(msg).encode()
    return len(data).to_bytes(4, "big") + data


def send_dict(sock, msg):
    sock.sendall(encode_frame(msg))


def exact_recv(sock, count):
    """`count` bytes, or None if the peer closed the connection first."""
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def recv_frame(sock):
    """The raw body of the next frame, or None at the end of the connection."""
    prefix = exact_recv(sock, 4)
    if prefix is None:
        return None
    return exact_recv(sock, int.from_bytes(prefix, "big"))


def recv_dict(sock):
    body = recv_frame(sock)
    return None if body is None else json.loads(body.decode("utf8"))


def new_key(size=16):
    import os

    return os.urandom(size)


def key_text(key):
    return base64.b64encode(key).decode("ascii")


def encrypt_intvalue(key, value):
    cipher = AES.new(key, AES.MODE_ECB)
    return base64.b64encode(cipher.encrypt(bytes("%16d" % value, "utf8"))).decode("ascii")


def decrypt_intvalue(key, text):
    cipher = AES.new(key, AES.MODE_ECB)
    return int(cipher.decrypt(base64.b64decode(text)).decode("utf8"))


class Connection:
    """One client connection that sends dictionaries and returns the raw reply bytes."""

    def __init__(self, port, host="127.0.0.1", timeout=20):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def exchange(self, msg):
        """Sends `msg` (a dict, or raw body bytes) and returns the reply's raw body."""
        if isinstance(msg, (bytes, bytearray)):
            self.sock.sendall(len(msg).to_bytes(4, "big") + msg)
        else:
            send_dict(self.sock, msg)
        return recv_frame(self.sock)

    def close(self):
        self.sock.close()
