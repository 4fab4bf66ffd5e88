#!/usr/bin/env python3
"""A minmax server in the assignment's own design, as dozens of deployed ones are built:
one `select` loop over the listening socket and the clients, a `users` dictionary keyed
by client id holding each client's socket, cipher and list of numbers, and a report
written with the `csv` module.

It exists to check that minmax-client talks to such servers, as the Python reference of
the benchmark, and as the seed-level reference of minmax-conform. It keeps the
assignment's limits on purpose: `select` (which stops at descriptor 1024), every number
kept in memory, no fsync.

    python3 ref_server.py PORT [--report PATH] [--legacy] [--fault NAME]
                          [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE] [--tls-max 1.2]]

PORT 0 picks a free port; the chosen one is printed on stderr as "listening on
127.0.0.1:PORT". A wrong number of arguments is exit code 1, an invalid port exit code 2
(the assignment's section 1.11). --legacy answers STOP the way some deployed servers do:
"minimum" and "maximum" keys, plain integers even in an encrypted session.

--fault NAME makes it wrong in one way that students' servers are (see FAULTS): the
interop suite checks that minmax-conform catches each one with the case named for it.

--tls-cert and --tls-key make it a TLS server with Python's ssl module, as a student's
server would be one (docs/PROTOCOL.md section 8): each accepted socket is wrapped, its
handshake done at once (a failed one is printed on stderr as "TLS handshake failed: ..."
and the connection closed). --tls-client-ca requires client certificates of that CA and
answers a START whose client_id is not the certificate's identity (its URI SAN
minmax:client/ID, else its subject CN) with "Cliente n\u00e3o autorizado". --tls-max 1.2
keeps it to TLS 1.2.
"""

import base64
import csv
import json
import os
import select
import socket
import ssl
import sys

from minmax_ref import decrypt_intvalue, encrypt_intvalue, exact_recv

# Each fault, and what it does wrong.
FAULTS = {
    "reply-before-row": "rows go through a buffered file, so the STOP reply leaves before its row is written",
    "compact-json": "replies written with compact separators",
    "no-ascii-escaping": "replies written with ensure_ascii=False",
    "duplicate-ids": "START never checks whether the id is active",
    "id-kept-on-disconnect": "a client that disconnects keeps its id",
    "id-kept-after-stop": "STOP does not free the id",
    "row-on-quit": "QUIT writes a row as STOP does",
    "crash-on-reset": "a connection reset is not caught and kills the server",
    "crash-on-invalid-json": "invalid JSON is not caught and kills the server",
    "crash-on-huge-prefix": "the announced length is allocated at once and the allocation fails",
    "wrong-error-string": "a duplicate id is refused with 'Cliente j\u00e1 existe'",
    "min-max-swapped": "STOP answers min and max swapped",
    "numbers-through-float": "numbers are stored with float()",
    "no-header": "the report is created without its header",
    "report-overwritten": "an existing report is overwritten at start",
    "numbers-kept-across-sessions": "a new session on a connection starts with the last one's numbers",
    "no-pipelining": "one recv per request: a second frame in the same read is lost",
    "single-recv-frames": "a frame is read with one recv for the prefix and one for the body",
    "stop-without-numbers-unchecked": "STOP with no number calls min([]) and drops the connection",
    "argparse-exit-codes": "a wrong number of arguments is exit code 2 (argparse), not 1",
    "error-without-op": "refusals carry no op",
}

users = {}
numbers_of = {}
report_path = "report.csv"
legacy = False
fault = None
buffered_report = None
tls_options = {}
# A TLS client's identity, by its socket (with --tls-client-ca).
identity_of = {}


def dumps(msg):
    if fault == "compact-json":
        return json.dumps(msg, separators=(",", ":"))
    if fault == "no-ascii-escaping":
        return json.dumps(msg, ensure_ascii=False)
    return json.dumps(msg)


def send_dict(sock, msg):
    data = dumps(msg).encode()
    sock.sendall(len(data).to_bytes(4, "big") + data)


def recv_dict(sock):
    if fault == "single-recv-frames":
        prefix = sock.recv(4)
        if not prefix:
            return None
        data = sock.recv(int.from_bytes(prefix, "big"))
    elif fault == "no-pipelining":
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data = chunk[4:4 + int.from_bytes(chunk[:4], "big")]
    else:
        prefix = exact_recv(sock, 4)
        if prefix is None:
            return None
        length = int.from_bytes(prefix, "big")
        if fault == "crash-on-huge-prefix" and length > 1 << 20:
            raise MemoryError("cannot allocate %d bytes" % length)
        data = exact_recv(sock, length)
        if data is None:
            return None
    return json.loads(data.decode("utf8"))


def find_client_id(client_sock):
    for client_id, user in users.items():
        if user["socket"] is client_sock:
            return client_id
    return None


def create_file(path):
    if fault == "report-overwritten" or not os.path.exists(path) or os.path.getsize(path) == 0:
        with open(path, "w", newline="") as report:
            if fault != "no-header":
                csv.writer(report).writerow(["client_id", "count", "min", "max"])


def update_file(path, client_id, numbers):
    global buffered_report
    row = [client_id, len(numbers), min(numbers), max(numbers)]
    if fault == "reply-before-row":
        if buffered_report is None:
            buffered_report = open(path, "a", newline="")
        csv.writer(buffered_report).writerow(row)
        return
    with open(path, "a", newline="") as report:
        csv.writer(report).writerow(row)


def error(op, message):
    if fault == "error-without-op":
        return {"status": False, "error": message}
    return {"op": op, "status": False, "error": message}


def new_msg(client_sock):
    request = recv_dict(client_sock)
    if request is None:
        return False
    op = request.get("op")
    client_id = find_client_id(client_sock)
    if op == "START":
        if client_sock in identity_of and request.get("client_id") != identity_of[client_sock]:
            reply = error(op, "Cliente n\u00e3o autorizado")
        elif request.get("client_id") in users and fault != "duplicate-ids":
            message = "Cliente j\u00e1 existe" if fault == "wrong-error-string" else "Cliente existente"
            reply = error(op, message)
        else:
            key = request.get("cipher")
            users[request["client_id"]] = {
                "socket": client_sock,
                "cipher": base64.b64decode(key) if key else None,
            }
            if fault != "numbers-kept-across-sessions" or client_sock not in numbers_of:
                numbers_of[client_sock] = []
            reply = {"op": op, "status": True}
    elif op == "QUIT":
        if client_id is None:
            reply = error(op, "Cliente inexistente")
        else:
            if fault == "row-on-quit" and numbers_of[client_sock]:
                update_file(report_path, client_id, numbers_of[client_sock])
            del users[client_id]
            reply = {"op": op, "status": True}
    elif op == "NUMBER":
        if client_id is None:
            reply = error(op, "Cliente inexistente")
        else:
            user = users[client_id]
            number = request["number"]
            if user["cipher"] is not None:
                number = decrypt_intvalue(user["cipher"], number)
            number = float(number) if fault == "numbers-through-float" else int(number)
            numbers_of[client_sock].append(number)
            reply = {"op": op, "status": True}
    elif op == "STOP":
        if client_id is None:
            reply = error(op, "Cliente inexistente")
        else:
            user = users[client_id] if fault == "id-kept-after-stop" else users.pop(client_id)
            numbers = numbers_of[client_sock]
            if not numbers and fault != "stop-without-numbers-unchecked":
                reply = error(op, "Dados insuficientes")
            else:
                update_file(report_path, client_id, numbers)
                low, high = min(numbers), max(numbers)
                if fault == "min-max-swapped":
                    low, high = high, low
                if legacy:
                    reply = {"op": op, "status": True, "minimum": low, "maximum": high}
                elif user["cipher"] is not None:
                    key = user["cipher"]
                    reply = {"op": op, "status": True,
                             "min": encrypt_intvalue(key, low), "max": encrypt_intvalue(key, high)}
                else:
                    reply = {"op": op, "status": True, "min": low, "max": high}
            if fault != "numbers-kept-across-sessions":
                numbers_of[client_sock] = []
    else:
        reply = error(op, "Opera\u00e7\u00e3o desconhecida")
    send_dict(client_sock, reply)
    return True


def clean_client(client_sock):
    client_id = find_client_id(client_sock)
    if client_id is not None and fault != "id-kept-on-disconnect":
        del users[client_id]
    numbers_of.pop(client_sock, None)
    identity_of.pop(client_sock, None)


def usage(code, message):
    print("ref_server.py: %s\nusage: python3 ref_server.py PORT [--report PATH] [--legacy] [--fault NAME]"
          " [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE] [--tls-max 1.2]]"
          % message, file=sys.stderr)
    sys.exit(code)


TLS_OPTIONS = ("--tls-cert", "--tls-key", "--tls-client-ca", "--tls-max")


def tls_context():
    """The server's ssl context, or None without --tls-cert."""
    if not tls_options:
        return None
    if "--tls-cert" not in tls_options or "--tls-key" not in tls_options:
        usage(1, "--tls-cert and --tls-key go together")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    maximum = tls_options.get("--tls-max", "1.3")
    if maximum not in ("1.2", "1.3"):
        usage(2, "invalid --tls-max %r: expected 1.2 or 1.3" % maximum)
    if maximum == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(tls_options["--tls-cert"], tls_options["--tls-key"])
        if "--tls-client-ca" in tls_options:
            ctx.load_verify_locations(tls_options["--tls-client-ca"])
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as problem:
        usage(2, "cannot use the TLS files: %s" % problem)
    return ctx


def certificate_identity(cert):
    """The client id a verified certificate names: its URI SAN minmax:client/ID, else its CN."""
    for kind, value in cert.get("subjectAltName", ()):
        if kind == "URI" and value.startswith("minmax:client/") and len(value) > len("minmax:client/"):
            return value[len("minmax:client/"):]
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return None


def accept_tls(ctx, new_client):
    """The accepted socket wrapped, its handshake done; None if it failed (printed)."""
    new_client.settimeout(10)
    try:
        wrapped = ctx.wrap_socket(new_client, server_side=True)
    except (OSError, ValueError) as problem:
        print("TLS handshake failed: %s" % problem, file=sys.stderr, flush=True)
        new_client.close()
        return None
    wrapped.settimeout(None)
    if ctx.verify_mode == ssl.CERT_REQUIRED:
        identity_of[wrapped] = certificate_identity(wrapped.getpeercert() or {})
    return wrapped


def parse_args(argv):
    global report_path, legacy, fault
    words = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in ("--report", "--fault") + TLS_OPTIONS:
            if i + 1 == len(argv):
                usage(1, "%s needs a value" % word)
            if word == "--report":
                report_path = argv[i + 1]
            elif word in TLS_OPTIONS:
                tls_options[word] = argv[i + 1]
            else:
                fault = argv[i + 1]
                if fault not in FAULTS:
                    usage(2, "unknown fault %r: one of %s" % (fault, ", ".join(sorted(FAULTS))))
            i += 2
            continue
        if word == "--legacy":
            legacy = True
        elif word.startswith("--"):
            usage(1, "unknown option %s" % word)
        else:
            words.append(word)
        i += 1
    if len(words) != 1:
        usage(2 if fault == "argparse-exit-codes" else 1, "expected one argument, the port; got %d" % len(words))
    try:
        port = int(words[0])
    except ValueError:
        usage(2, "invalid port %r: expected an integer from 1 to 65535 (0 for any free port)" % words[0])
    if not 0 <= port <= 65535:
        usage(2, "invalid port %d: expected an integer from 1 to 65535 (0 for any free port)" % port)
    return port


def main():
    port = parse_args(sys.argv[1:])
    ctx = tls_context()
    create_file(report_path)

    server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server_socket.bind(("127.0.0.1", port))
    server_socket.listen(1024)
    print("listening on 127.0.0.1:%d" % server_socket.getsockname()[1], file=sys.stderr, flush=True)

    # The faults that crash let these through on purpose.
    # (1E400 is read as a float infinity, and int() of it raises OverflowError.)
    caught = (OSError, ValueError, KeyError, TypeError, AttributeError, ArithmeticError)
    if fault == "crash-on-reset":
        caught = (ValueError, KeyError, TypeError, AttributeError, ArithmeticError)
    elif fault == "crash-on-invalid-json":
        caught = (OSError, KeyError, TypeError, AttributeError, ArithmeticError)

    clients = []
    while True:
        available = select.select([server_socket] + clients, [], [])[0]
        for client_sock in available:
            if client_sock is server_socket:
                new_client, _ = server_socket.accept()
                new_client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if ctx is not None:
                    new_client = accept_tls(ctx, new_client)
                    if new_client is None:
                        continue
                clients.append(new_client)
                continue
            try:
                alive = new_msg(client_sock)
                # Frames ssl has already decrypted wait in the socket object, where
                # select cannot see them.
                while alive and isinstance(client_sock, ssl.SSLSocket) and client_sock.pending():
                    alive = new_msg(client_sock)
            except caught:
                alive = False
            if not alive:
                clients.remove(client_sock)
                clean_client(client_sock)
                client_sock.close()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
