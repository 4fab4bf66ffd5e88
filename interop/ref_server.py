#!/usr/bin/env python3
"""A minmax server in the assignment's own design, as dozens of deployed ones are built:
one `select` loop over the listening socket and the clients, a `users` dictionary keyed
by client id holding each client's socket, cipher and list of numbers, and a report
written with the `csv` module.

It exists to check that minmax-client talks to such servers, and as the Python
reference of the benchmark. It keeps the assignment's limits on purpose: `select`
(which stops at descriptor 1024), every number kept in memory, no fsync.

    python3 ref_server.py PORT [--report PATH] [--legacy]

PORT 0 picks a free port; the chosen one is printed on stderr as "listening on
127.0.0.1:PORT". --legacy answers STOP the way some deployed servers do: "minimum" and
"maximum" keys, plain integers even in an encrypted session.
"""

import argparse
import base64
import csv
import os
import select
import socket
import sys

from Crypto.Cipher import AES

from minmax_ref import decrypt_intvalue, encrypt_intvalue, recv_dict, send_dict

users = {}
options = None


def find_client_id(client_sock):
    for client_id, user in users.items():
        if user["socket"] is client_sock:
            return client_id
    return None


def create_file(path):
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        with open(path, "w", newline="") as report:
            csv.writer(report).writerow(["client_id", "count", "min", "max"])


def update_file(path, client_id, numbers):
    with open(path, "a", newline="") as report:
        csv.writer(report).writerow([client_id, len(numbers), min(numbers), max(numbers)])


def error(op, message):
    return {"op": op, "status": False, "error": message}


def new_msg(client_sock):
    request = recv_dict(client_sock)
    if request is None:
        return False
    op = request.get("op")
    client_id = find_client_id(client_sock)
    if op == "START":
        if request.get("client_id") in users:
            reply = error(op, "Cliente existente")
        else:
            key = request.get("cipher")
            users[request["client_id"]] = {
                "socket": client_sock,
                "cipher": base64.b64decode(key) if key else None,
                "numbers": [],
            }
            reply = {"op": op, "status": True}
    elif op == "QUIT":
        if client_id is None:
            reply = error(op, "Cliente inexistente")
        else:
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
            user["numbers"].append(int(number))
            reply = {"op": op, "status": True}
    elif op == "STOP":
        if client_id is None:
            reply = error(op, "Cliente inexistente")
        else:
            user = users.pop(client_id)
            numbers = user["numbers"]
            if not numbers:
                reply = error(op, "Dados insuficientes")
            else:
                update_file(options.report, client_id, numbers)
                low, high = min(numbers), max(numbers)
                if options.legacy:
                    reply = {"op": op, "status": True, "minimum": low, "maximum": high}
                elif user["cipher"] is not None:
                    key = user["cipher"]
                    reply = {"op": op, "status": True,
                             "min": encrypt_intvalue(key, low), "max": encrypt_intvalue(key, high)}
                else:
                    reply = {"op": op, "status": True, "min": low, "max": high}
    else:
        reply = error(op, "Opera\u00e7\u00e3o desconhecida")
    send_dict(client_sock, reply)
    return True


def clean_client(client_sock):
    client_id = find_client_id(client_sock)
    if client_id is not None:
        del users[client_id]


def main():
    global options
    parser = argparse.ArgumentParser(description="A minmax server in the assignment's design.")
    parser.add_argument("port", type=int)
    parser.add_argument("--report", default="report.csv")
    parser.add_argument("--legacy", action="store_true")
    options = parser.parse_args()
    if not 0 <= options.port <= 65535:
        print("port must be 0-65535", file=sys.stderr)
        sys.exit(2)
    create_file(options.report)

    server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server_socket.bind(("127.0.0.1", options.port))
    server_socket.listen(1024)
    print("listening on 127.0.0.1:%d" % server_socket.getsockname()[1], file=sys.stderr, flush=True)

    clients = []
    while True:
        available = select.select([server_socket] + clients, [], [])[0]
        for client_sock in available:
            if client_sock is server_socket:
                new_client, _ = server_socket.accept()
                new_client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                clients.append(new_client)
                continue
            try:
                alive = new_msg(client_sock)
            except (OSError, ValueError, KeyError, TypeError):
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
