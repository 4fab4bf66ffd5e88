"""The real minmax-client --tls against Python's ssl module as the SERVER: ref_server.py,
the assignment-style server, run with --tls-cert/--tls-key (and --tls-client-ca), as a
student's TLS server would be built (docs/PROTOCOL.md section 8). Plain and AES sessions
inside TLS 1.3 and 1.2, client certificates and the identity rule, and the client's
refusals of a server it cannot verify. Certificates are made by minmax-certs.
"""

import csv
import json
import subprocess

import pytest

from conftest import TIMEOUT, binary, run_client


@pytest.fixture
def pki(tmp_path):
    """A CA, a server certificate for localhost and 127.0.0.1, one for another name, and
    client certificates for anton and berta, all made by minmax-certs."""
    folder = tmp_path / "pki"

    def make(*args):
        subprocess.run([binary("minmax-certs"), "--dir", str(folder), *args], check=True,
                       capture_output=True, timeout=TIMEOUT)

    make("ca")
    make("server", "localhost", "127.0.0.1")
    make("client", "anton", "berta")
    return folder


def server_tls(pki, client_ca=False, tls_max=None):
    args = ["--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server-key.pem")]
    if client_ca:
        args += ["--tls-client-ca", str(pki / "ca.pem")]
    if tls_max:
        args += ["--tls-max", tls_max]
    return args


def client_tls(pki, identity=None):
    args = ["--tls", "--tls-ca", str(pki / "ca.pem")]
    if identity:
        args += ["--tls-cert", str(pki / "clients" / f"{identity}.pem"),
                 "--tls-key", str(pki / "clients" / f"{identity}-key.pem")]
    return args


def report_rows(path):
    with open(path, newline="") as report:
        return list(csv.reader(report))[1:]


def stderr_message(done):
    assert done.stderr.startswith("minmax-client: "), done.stderr
    return done.stderr[len("minmax-client: "):].strip()


@pytest.mark.parametrize("tls_max", [None, "1.2"])
def test_plain_and_aes_sessions_inside_tls(ref_server, pki, tls_max):
    server = ref_server(*server_tls(pki, tls_max=tls_max))
    done = run_client("anton", str(server.port), "localhost", *client_tls(pki), stdin_text="5 -3 12\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "numbers sent (3): 5 -3 12\nmin: -3\nmax: 12\n"
    # The assignment's AES scheme inside TLS, by the IP address in the certificate.
    done = run_client("manel", str(server.port), "127.0.0.1", *client_tls(pki), "--encrypt",
                      stdin_text="9999999999999999, -999999999999999\n42\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("min: -999999999999999\nmax: 9999999999999999\n")
    assert report_rows(server.report) == [["anton", "3", "-3", "12"],
                                          ["manel", "3", "-999999999999999", "9999999999999999"]]
    assert "TLS handshake failed" not in "".join(server.log), server.log


def test_a_client_certificate_and_the_identity_it_names(ref_server, pki):
    server = ref_server(*server_tls(pki, client_ca=True))
    done = run_client("anton", str(server.port), *client_tls(pki, "anton"), "--encrypt", stdin_text="7 1\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("min: 1\nmax: 7\n")
    # Berta's certificate does not make her anton.
    done = run_client("anton", str(server.port), *client_tls(pki, "berta"), "--json", stdin_text="1\n")
    assert done.returncode == 3, done.stderr
    refused = json.loads(done.stdout)
    assert (refused["outcome"], refused["op"], refused["error"]) == ("refused", "START", "Cliente não autorizado")
    assert report_rows(server.report) == [["anton", "2", "1", "7"]]


@pytest.mark.parametrize("tls_max, tls_error, words", [
    # TLS 1.3: OpenSSL's certificate_required alert, after the client's side is done.
    (None, "client certificate required",
     "the server requires a client certificate and none was given: give yours with --tls-cert FILE --tls-key FILE"),
    # TLS 1.2: OpenSSL ends the handshake with handshake_failure.
    ("1.2", "handshake refused",
     "the server refused the TLS handshake (handshake_failure): no TLS version or cipher suite in common, "
     "or it requires a client certificate: give yours with --tls-cert FILE --tls-key FILE"),
])
def test_no_client_certificate_for_a_server_that_requires_one(ref_server, pki, tls_max, tls_error, words):
    server = ref_server(*server_tls(pki, client_ca=True, tls_max=tls_max))
    done = run_client("anton", str(server.port), *client_tls(pki), "--json", stdin_text="1\n")
    assert done.returncode == 5, done.stderr
    assert stderr_message(done) == "no TLS session with the server at localhost:%d: %s" % (server.port, words)
    outcome = json.loads(done.stdout)
    assert (outcome["exit_code"], outcome["tls_error"]) == (5, tls_error)
    # The server saw its handshake fail, and serves the next client.
    done = run_client("anton", str(server.port), *client_tls(pki, "anton"), stdin_text="3\n")
    assert done.returncode == 0, done.stderr
    assert any("TLS handshake failed" in line for line in server.log), server.log


def test_the_client_refuses_a_python_server_it_cannot_verify(ref_server, pki, tmp_path):
    other = tmp_path / "other"
    subprocess.run([binary("minmax-certs"), "--dir", str(other), "ca"], check=True, capture_output=True,
                   timeout=TIMEOUT)
    server = ref_server(*server_tls(pki))
    # minmax-certs names every CA alike: the client finds the CA it trusts by name, and
    # its key did not sign the server's certificate.
    done = run_client("anton", str(server.port), "--tls", "--tls-ca", str(other / "ca.pem"), "--json",
                      stdin_text="1\n")
    assert done.returncode == 5, done.stderr
    assert "the server's certificate did not verify: bad signature: it names the CA in %s as its issuer, " \
        "but that CA did not sign it" % (other / "ca.pem") in stderr_message(done)
    assert json.loads(done.stdout)["tls_error"] == "bad signature"
    subprocess.run([binary("minmax-certs"), "--dir", str(pki), "--force", "server", "minmax.example"], check=True,
                   capture_output=True, timeout=TIMEOUT)
    renamed = ref_server(*server_tls(pki))
    done = run_client("anton", str(renamed.port), *client_tls(pki), stdin_text="1\n")
    assert done.returncode == 5, done.stderr
    assert "name mismatch: it is for minmax.example, not for localhost" in stderr_message(done)
