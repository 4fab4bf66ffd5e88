"""Python's ssl module, with strict X.509 verification, against the real minmax-server
over TLS (docs/PROTOCOL.md section 8): plain and AES sessions inside TLS, client
certificates and the identity rule, certificates made by minmax-certs. And
`openssl s_client` where it is installed.
"""

import json
import os
import select
import shutil
import socket
import ssl
import subprocess

import pytest

from conftest import TIMEOUT, binary
from minmax_ref import decrypt_intvalue, encode_frame, encrypt_intvalue, key_text, new_key, recv_frame, send_dict


@pytest.fixture
def certs(tmp_path):
    """A CA, a server certificate for localhost and 127.0.0.1, and client
    certificates for anton and berta, all made by minmax-certs."""
    folder = tmp_path / "pki"

    def make(*args):
        subprocess.run([binary("minmax-certs"), "--dir", str(folder), *args], check=True,
                       capture_output=True, timeout=TIMEOUT)

    make("ca")
    make("server", "localhost", "127.0.0.1")
    (tmp_path / "ids.txt").write_text("anton\nberta\n")
    make("client", "--ids-from", str(tmp_path / "ids.txt"))
    return folder


def tls_args(certs, client_ca=False):
    args = ["--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server-key.pem")]
    if client_ca:
        args += ["--tls-client-ca", str(certs / "ca.pem")]
    return args


def context(certs, client=None, maximum=None):
    """A client context as strict as Python gets: the CA given, the host name
    checked, and VERIFY_X509_STRICT (which demands key identifiers and usages)."""
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    if maximum is not None:
        ctx.maximum_version = maximum
    if client is not None:
        ctx.load_cert_chain(str(certs / "clients" / f"{client}.pem"),
                            str(certs / "clients" / f"{client}-key.pem"))
    return ctx


class TlsConnection:
    def __init__(self, port, ctx, host="localhost"):
        raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = ctx.wrap_socket(raw, server_hostname=host)

    def exchange(self, msg):
        send_dict(self.sock, msg)
        return recv_frame(self.sock)

    def close(self):
        # No close_notify, as most Python programs close: an ordinary disconnect.
        self.sock.close()


def expect(conn, request, reply):
    assert conn.exchange(request) == json.dumps(reply).encode()


def test_a_plain_session_inside_tls(minmax_server, certs):
    server = minmax_server(*tls_args(certs))
    conn = TlsConnection(server.port, context(certs))
    assert conn.sock.version() == "TLSv1.3"
    expect(conn, {"op": "START", "client_id": "anton", "cipher": None}, {"op": "START", "status": True})
    for number in [5, -3, 10**40]:
        expect(conn, {"op": "NUMBER", "number": number}, {"op": "NUMBER", "status": True})
    expect(conn, {"op": "STOP"}, {"op": "STOP", "status": True, "min": -3, "max": 10**40})
    conn.close()
    # TLS 1.2, reached by the IP address in the certificate.
    old = TlsConnection(server.port, context(certs, maximum=ssl.TLSVersion.TLSv1_2), host="127.0.0.1")
    assert old.sock.version() == "TLSv1.2"
    expect(old, {"op": "START", "client_id": "berta"}, {"op": "START", "status": True})
    expect(old, {"op": "QUIT"}, {"op": "QUIT", "status": True})
    # A clean TLS close: unwrap() sends close_notify and waits for the server's.
    old.sock.unwrap().close()
    assert server.stop() == 0
    assert "WARN" not in "".join(server.log), "".join(server.log)


def test_the_aes_scheme_inside_tls(minmax_server, certs):
    server = minmax_server(*tls_args(certs), "--require-cipher")
    conn = TlsConnection(server.port, context(certs))
    key = new_key(32)
    expect(conn, {"op": "START", "client_id": "secret", "cipher": key_text(key)}, {"op": "START", "status": True})
    for number in [42, -7, 123456789]:
        expect(conn, {"op": "NUMBER", "number": encrypt_intvalue(key, number)}, {"op": "NUMBER", "status": True})
    reply = json.loads(conn.exchange({"op": "STOP"}))
    assert reply["status"] is True
    assert (decrypt_intvalue(key, reply["min"]), decrypt_intvalue(key, reply["max"])) == (-7, 123456789)
    conn.close()


def test_client_certificates_decide_who_may_use_an_id(minmax_server, certs):
    server = minmax_server(*tls_args(certs, client_ca=True))
    squatter = TlsConnection(server.port, context(certs, client="berta"))
    expect(squatter, {"op": "START", "client_id": "anton"},
           {"op": "START", "status": False, "error": "Cliente não autorizado"})
    owner = TlsConnection(server.port, context(certs, client="anton"))
    expect(owner, {"op": "START", "client_id": "anton", "cipher": None}, {"op": "START", "status": True})
    expect(owner, {"op": "NUMBER", "number": 3}, {"op": "NUMBER", "status": True})
    expect(owner, {"op": "STOP"}, {"op": "STOP", "status": True, "min": 3, "max": 3})
    # Without a certificate there is no session at all.
    with pytest.raises((ssl.SSLError, ConnectionError)):
        anonymous = TlsConnection(server.port, context(certs))
        if anonymous.exchange({"op": "START", "client_id": "anton"}) is None:
            raise ConnectionError("closed without a reply")
    squatter.close()
    owner.close()
    assert server.stop() == 0
    assert any("certificate" in line and "TLS handshake failed" in line for line in server.log), server.log


def test_a_server_certificate_for_another_name_is_refused_by_python(minmax_server, certs):
    server = minmax_server(*tls_args(certs))
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch|match"):
        TlsConnection(server.port, context(certs), host="other.example")


def test_plain_frames_get_no_reply_from_a_tls_port(minmax_server, certs):
    server = minmax_server(*tls_args(certs))
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as plain:
        plain.sendall(encode_frame({"op": "START", "client_id": "plain"}))
        rest = b""
        try:
            while chunk := plain.recv(4096):
                rest += chunk
        except ConnectionResetError:
            pass
        assert not rest.startswith(b"\x00\x00"), rest
    conn = TlsConnection(server.port, context(certs))
    expect(conn, {"op": "START", "client_id": "plain"}, {"op": "START", "status": True})
    conn.close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_s_client_verifies_strictly_and_talks(minmax_server, certs):
    server = minmax_server(*tls_args(certs, client_ca=True))
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}", "-servername", "localhost",
            "-CAfile", str(certs / "ca.pem"), "-verify_return_error", "-x509_strict", "-quiet",
            "-cert", str(certs / "clients" / "anton.pem"), "-key", str(certs / "clients" / "anton-key.pem")]
    client = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        client.stdin.write(encode_frame({"op": "START", "client_id": "anton"}))
        client.stdin.flush()
        wanted = json.dumps({"op": "START", "status": True}).encode()
        received = b""
        fd = client.stdout.fileno()
        while len(received) < 4 + len(wanted):
            ready, _, _ = select.select([fd], [], [], TIMEOUT)
            assert ready, "s_client got no reply"
            chunk = os.read(fd, 4096)
            assert chunk, "s_client ended: %s" % client.stderr.read1().decode(errors="replace")
            received += chunk
        assert received == len(wanted).to_bytes(4, "big") + wanted
    finally:
        client.kill()
        client.wait()
