#!/usr/bin/env python3
"""A minmax client in the assignment's own design: `validate_response` and
`quit_action` as section 1.11 suggests, numbers typed at an `input()` prompt, the
result printed after STOP. It is the seed-level reference of minmax-conform's client
battery.

    python3 ref_client.py CLIENT_ID PORT [HOST] [--encrypt] [--fault NAME]

Input: one integer per line; "stop" ends the session, "quit" (or Ctrl-C) abandons it.
Exit codes (section 1.11): 0 done, 1 wrong number of arguments, 2 an invalid argument,
3 the server refused a request, 4 the user quit; 5 the server cannot be reached.

--fault NAME makes it wrong in one way that students' clients are (see FAULTS): the
interop suite checks that minmax-conform catches each one with the case named for it.
"""

import base64
import json
import os
import socket
import sys

from minmax_ref import decrypt_intvalue, encrypt_intvalue, exact_recv

FAULTS = {
    "exit-0-on-refusal": "a refused request ends with exit code 0 instead of 3",
    "no-quit-on-interrupt": "Ctrl-C exits with code 4 without sending QUIT",
    "local-min-max": "prints the min and max of the numbers it sent, not the server's",
    "no-decryption": "prints the encrypted min and max as they came",
    "negative-refused": "refuses -3 as not a number (str.isdigit)",
    "wrong-arg-count-code": "a wrong number of arguments is exit code 2, not 1",
    "bad-port-exit-1": "a port that is not a number is exit code 1, not 2",
    "numbers-not-printed": "prints the min and max but not the numbers sent",
    "quit-exit-0": "quitting is exit code 0, not 4",
    "single-recv": "reads a reply with one recv(1024)",
    "compact-json": "frames written with compact separators",
    "constant-key": "the same AES key in every run",
    "host-required": "the host argument is required",
}

fault = None
encrypt = False


def dumps(msg):
    if fault == "compact-json":
        return json.dumps(msg, separators=(",", ":"))
    return json.dumps(msg)


def send_dict(sock, msg):
    data = dumps(msg).encode()
    sock.sendall(len(data).to_bytes(4, "big") + data)


def recv_dict(sock):
    if fault == "single-recv":
        chunk = sock.recv(1024)
        if len(chunk) < 4:
            return None
        return json.loads(chunk[4:].decode("utf8"))
    prefix = exact_recv(sock, 4)
    if prefix is None:
        return None
    data = exact_recv(sock, int.from_bytes(prefix, "big"))
    return None if data is None else json.loads(data.decode("utf8"))


def sendrecv_dict(sock, msg):
    send_dict(sock, msg)
    reply = recv_dict(sock)
    if reply is None:
        print("the server closed the connection", file=sys.stderr)
        sys.exit(5)
    return reply


def validate_response(client_sock, response):
    """Prints the server's error, closes the socket and exits 3 on a refusal."""
    if not response.get("status"):
        print("Erro do servidor: %s" % response.get("error"), file=sys.stderr)
        client_sock.close()
        sys.exit(0 if fault == "exit-0-on-refusal" else 3)


def quit_action(client_sock):
    """Sends QUIT, prints its outcome, closes and exits 4."""
    if fault != "no-quit-on-interrupt":
        response = sendrecv_dict(client_sock, {"op": "QUIT"})
        if response.get("status"):
            print("Desist\u00eancia registada: nada foi guardado")
        else:
            print("QUIT recusado: %s" % response.get("error"))
    client_sock.close()
    sys.exit(0 if fault == "quit-exit-0" else 4)


def read_value(value, key):
    if isinstance(value, str) and key is not None and fault != "no-decryption":
        return decrypt_intvalue(key, value)
    return value


def usage(code, message):
    print("ref_client.py: %s\nusage: python3 ref_client.py CLIENT_ID PORT [HOST] [--encrypt]" % message,
          file=sys.stderr)
    sys.exit(code)


def parse_args(argv):
    global fault, encrypt
    words = []
    i = 0
    while i < len(argv):
        if argv[i] == "--fault" and i + 1 < len(argv):
            fault = argv[i + 1]
            if fault not in FAULTS:
                usage(2, "unknown fault %r" % fault)
            i += 2
            continue
        if argv[i] == "--encrypt":
            encrypt = True
        else:
            words.append(argv[i])
        i += 1
    lowest = 3 if fault == "host-required" else 2
    if not lowest <= len(words) <= 3:
        usage(2 if fault == "wrong-arg-count-code" else 1,
              "expected CLIENT_ID PORT [HOST], got %d arguments" % len(words))
    client_id, port = words[0], words[1]
    host = words[2] if len(words) == 3 else "localhost"
    try:
        port = int(port)
    except ValueError:
        usage(1 if fault == "bad-port-exit-1" else 2, "invalid port %r: expected an integer from 1 to 65535" % port)
    if not 1 <= port <= 65535:
        usage(2, "invalid port %d: expected an integer from 1 to 65535" % port)
    parts = host.split(".")
    if all(part.isdigit() for part in parts):
        if len(parts) != 4 or any(int(part) > 255 for part in parts):
            usage(2, "invalid host %r: expected X.X.X.X with each X from 0 to 255, or a DNS name" % host)
    return client_id, port, host


def main():
    client_id, port, host = parse_args(sys.argv[1:])
    try:
        client_sock = socket.create_connection((host, port), timeout=30)
    except socket.gaierror as error:
        usage(2, "host %r not found: %s" % (host, error))
    except OSError as error:
        print("cannot reach %s:%d: %s" % (host, port, error), file=sys.stderr)
        sys.exit(5)

    key = None
    if encrypt:
        key = bytes(range(16)) if fault == "constant-key" else os.urandom(16)
    cipher = base64.b64encode(key).decode("ascii") if key else None
    validate_response(client_sock, sendrecv_dict(client_sock, {"op": "START", "client_id": client_id,
                                                               "cipher": cipher}))
    numbers = []
    while True:
        try:
            line = input("N\u00famero (stop para terminar, quit para desistir): ").strip()
        except KeyboardInterrupt:
            print()
            quit_action(client_sock)
        except EOFError:
            line = "stop"
        if line.lower() == "quit":
            quit_action(client_sock)
        if line.lower() == "stop":
            break
        if fault == "negative-refused" and not line.isdigit():
            print("%r n\u00e3o \u00e9 um n\u00famero inteiro" % line, file=sys.stderr)
            continue
        try:
            number = int(line)
        except ValueError:
            print("%r n\u00e3o \u00e9 um n\u00famero inteiro" % line, file=sys.stderr)
            continue
        value = encrypt_intvalue(key, number) if key else number
        try:
            validate_response(client_sock, sendrecv_dict(client_sock, {"op": "NUMBER", "number": value}))
        except KeyboardInterrupt:
            quit_action(client_sock)
        numbers.append(number)

    response = sendrecv_dict(client_sock, {"op": "STOP"})
    validate_response(client_sock, response)
    low = read_value(response.get("min", response.get("minimum")), key)
    high = read_value(response.get("max", response.get("maximum")), key)
    if fault == "local-min-max":
        low, high = min(numbers), max(numbers)
    if fault != "numbers-not-printed":
        print("N\u00fameros enviados: %s" % " ".join(str(n) for n in numbers))
    print("M\u00ednimo: %s" % low)
    print("M\u00e1ximo: %s" % high)
    client_sock.close()


if __name__ == "__main__":
    main()
