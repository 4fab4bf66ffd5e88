"""The Python reference stack against the real minmax-server: every case of sections 3
and 4 of docs/PROTOCOL.md, each reply compared byte for byte with what json.dumps
writes for the expected dictionary, the AES scheme of section 5 with pycryptodome and
all three key sizes, exact big integers, and the report read back with the csv module.
"""

import csv
import json
import socket
import sys

import pytest

from minmax_ref import Connection, decrypt_intvalue, encrypt_intvalue, key_text, new_key, recv_frame


def ok(op):
    return {"op": op, "status": True}


def err(op, message):
    return {"op": op, "status": False, "error": message}


def expect(conn, request, reply):
    """Sends `request`; the reply must be exactly json.dumps(reply).encode()."""
    assert conn.exchange(request) == json.dumps(reply).encode()


def rows(path):
    with open(path, newline="") as report:
        return list(csv.reader(report))


# Each case: a list of (request, expected reply) on one connection. Requests given as
# bytes are sent as raw frame bodies.
CASES = {
    "section 3: NUMBER, STOP, QUIT without a session": [
        ({"op": "NUMBER", "number": 1}, err("NUMBER", "Cliente inexistente")),
        ({"op": "STOP"}, err("STOP", "Cliente inexistente")),
        ({"op": "QUIT"}, err("QUIT", "Cliente inexistente")),
    ],
    "section 3: a whole session": [
        ({"op": "START", "client_id": "anton", "cipher": None}, ok("START")),
        ({"op": "NUMBER", "number": 5}, ok("NUMBER")),
        ({"op": "NUMBER", "number": -3}, ok("NUMBER")),
        ({"op": "NUMBER", "number": 12}, ok("NUMBER")),
        ({"op": "STOP"}, {"op": "STOP", "status": True, "min": -3, "max": 12}),
        ({"op": "STOP"}, err("STOP", "Cliente inexistente")),
    ],
    "section 3: START without cipher, and with an empty one": [
        ({"op": "START", "client_id": "nokey"}, ok("START")),
        ({"op": "QUIT"}, ok("QUIT")),
        ({"op": "START", "client_id": "nokey", "cipher": ""}, ok("START")),
    ],
    "section 3: QUIT abandons, and the connection may START again": [
        ({"op": "START", "client_id": "q"}, ok("START")),
        ({"op": "NUMBER", "number": 1}, ok("NUMBER")),
        ({"op": "QUIT"}, ok("QUIT")),
        ({"op": "NUMBER", "number": 2}, err("NUMBER", "Cliente inexistente")),
        ({"op": "START", "client_id": "q"}, ok("START")),
    ],
    "section 4: Sess\u00e3o j\u00e1 iniciada": [
        ({"op": "START", "client_id": "twice"}, ok("START")),
        ({"op": "START", "client_id": "other"}, err("START", "Sess\u00e3o j\u00e1 iniciada")),
    ],
    "section 4: Dados insuficientes ends the session": [
        ({"op": "START", "client_id": "empty"}, ok("START")),
        ({"op": "STOP"}, err("STOP", "Dados insuficientes")),
        ({"op": "QUIT"}, err("QUIT", "Cliente inexistente")),
    ],
    "section 4: Identificador inv\u00e1lido": [
        ({"op": "START"}, err("START", "Identificador inv\u00e1lido")),
        ({"op": "START", "client_id": 5}, err("START", "Identificador inv\u00e1lido")),
        ({"op": "START", "client_id": None}, err("START", "Identificador inv\u00e1lido")),
        ({"op": "START", "client_id": ""}, err("START", "Identificador inv\u00e1lido")),
        ({"op": "START", "client_id": "x" * 65}, err("START", "Identificador inv\u00e1lido")),
        ({"op": "START", "client_id": "a\tb"}, err("START", "Identificador inv\u00e1lido")),
        ({"op": "START", "client_id": "=HYPERLINK(1)"}, err("START", "Identificador inv\u00e1lido")),
        ({"op": "START", "client_id": "@x"}, err("START", "Identificador inv\u00e1lido")),
        ({"op": "START", "client_id": "\ud800"}, err("START", "Identificador inv\u00e1lido")),
        ({"op": "START", "client_id": "\u00e9" * 32}, ok("START")),
    ],
    "section 4: Chave inv\u00e1lida": [
        ({"op": "START", "client_id": "k", "cipher": "AAAA"}, err("START", "Chave inv\u00e1lida")),
        ({"op": "START", "client_id": "k", "cipher": key_text(b"x" * 15)}, err("START", "Chave inv\u00e1lida")),
        ({"op": "START", "client_id": "k", "cipher": 16}, err("START", "Chave inv\u00e1lida")),
        ({"op": "START", "client_id": "", "cipher": 16}, err("START", "Identificador inv\u00e1lido")),
    ],
    "section 4: N\u00famero inv\u00e1lido": [
        ({"op": "START", "client_id": "n"}, ok("START")),
        ({"op": "NUMBER", "number": 1.0}, err("NUMBER", "N\u00famero inv\u00e1lido")),
        ({"op": "NUMBER", "number": 1e3}, err("NUMBER", "N\u00famero inv\u00e1lido")),
        ({"op": "NUMBER", "number": True}, err("NUMBER", "N\u00famero inv\u00e1lido")),
        ({"op": "NUMBER", "number": None}, err("NUMBER", "N\u00famero inv\u00e1lido")),
        ({"op": "NUMBER", "number": [1]}, err("NUMBER", "N\u00famero inv\u00e1lido")),
        ({"op": "NUMBER", "number": "five"}, err("NUMBER", "N\u00famero inv\u00e1lido")),
        ({"op": "NUMBER"}, err("NUMBER", "N\u00famero inv\u00e1lido")),
        (b'{"op": "NUMBER", "number": 1E400}', err("NUMBER", "N\u00famero inv\u00e1lido")),
        ({"op": "NUMBER", "number": " 7 "}, ok("NUMBER")),
        ({"op": "NUMBER", "number": "-12"}, ok("NUMBER")),
        ({"op": "STOP"}, {"op": "STOP", "status": True, "min": -12, "max": 7}),
    ],
    "section 4: Mensagem inv\u00e1lida and Opera\u00e7\u00e3o desconhecida": [
        (b"not json", err(None, "Mensagem inv\u00e1lida")),
        (b"[1, 2]", err(None, "Mensagem inv\u00e1lida")),
        (b'"START"', err(None, "Mensagem inv\u00e1lida")),
        (b"", err(None, "Mensagem inv\u00e1lida")),
        (b'{"op": "QUIT", "x": "\xff"}', err(None, "Mensagem inv\u00e1lida")),
        ({"op": None}, err(None, "Mensagem inv\u00e1lida")),
        ({"op": 5}, err(None, "Mensagem inv\u00e1lida")),
        ({"number": 5}, err(None, "Mensagem inv\u00e1lida")),
        # json.dumps writes a float infinity as Infinity, which is not JSON.
        ({"op": "NUMBER", "number": float("inf")}, err(None, "Mensagem inv\u00e1lida")),
        ({"op": "start"}, err("start", "Opera\u00e7\u00e3o desconhecida")),
        ({"op": "Opera\u00e7\u00e3o \ud83d\ude00"}, err("Opera\u00e7\u00e3o \ud83d\ude00", "Opera\u00e7\u00e3o desconhecida")),
        ({"op": "\ud800"}, err("\ud800", "Opera\u00e7\u00e3o desconhecida")),
        # Python's json keeps the last of repeated keys; so does minmax.
        (b'{"op": "START", "op": "STOP"}', err("STOP", "Cliente inexistente")),
        ({"op": "START", "client_id": "still-usable"}, ok("START")),
    ],
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_case_of_sections_3_and_4(minmax_server, name):
    server = minmax_server()
    conn = Connection(server.port)
    for request, reply in CASES[name]:
        expect(conn, request, reply)
    conn.close()


def test_cliente_existente_across_connections_and_ids_freed_by_disconnect(minmax_server):
    server = minmax_server()
    first, second = Connection(server.port), Connection(server.port)
    expect(first, {"op": "START", "client_id": "shared"}, ok("START"))
    expect(second, {"op": "START", "client_id": "shared"}, err("START", "Cliente existente"))
    first.close()
    # The server notices the disconnect when it reads the end of the stream; a request
    # on the other connection afterwards is answered after it.
    for _ in range(1000):
        reply = second.exchange({"op": "START", "client_id": "shared"})
        if reply == json.dumps(ok("START")).encode():
            break
        assert reply == json.dumps(err("START", "Cliente existente")).encode()
    else:
        pytest.fail("the id was never freed by the disconnect")


def test_big_integers_are_exact(minmax_server):
    server = minmax_server()
    conn = Connection(server.port)
    largest = 10**4300 - 1  # 4 300 digits: Python's own limit
    expect(conn, {"op": "START", "client_id": "big"}, ok("START"))
    for number in [2**200, -largest, 0, -(2**200)]:
        expect(conn, {"op": "NUMBER", "number": number}, ok("NUMBER"))
    expect(conn, {"op": "STOP"}, {"op": "STOP", "status": True, "min": -largest, "max": 2**200})
    assert rows(server.report)[1] == ["big", "4", str(-largest), str(2**200)]


def test_a_number_over_pythons_digit_limit_is_numero_invalido(minmax_server):
    # -(10**4300) has 4 301 digits: Python itself refuses to write it unless the limit
    # is lifted, and the server refuses it as section 4 says.
    server = minmax_server()
    conn = Connection(server.port)
    expect(conn, {"op": "START", "client_id": "limit"}, ok("START"))
    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        body = json.dumps({"op": "NUMBER", "number": -(10**4300)}).encode()
    finally:
        sys.set_int_max_str_digits(previous)
    assert conn.exchange(body) == json.dumps(err("NUMBER", "N\u00famero inv\u00e1lido")).encode()


@pytest.mark.parametrize("key_size", [16, 24, 32])
def test_encrypted_sessions_with_every_key_size(minmax_server, key_size):
    server = minmax_server()
    conn = Connection(server.port)
    key = new_key(key_size)
    numbers = [42, -999_999_999_999_999, 9_999_999_999_999_999, 0, -7]
    expect(conn, {"op": "START", "client_id": "enc%d" % key_size, "cipher": key_text(key)}, ok("START"))
    for number in numbers:
        expect(conn, {"op": "NUMBER", "number": encrypt_intvalue(key, number)}, ok("NUMBER"))
    expect(conn, {"op": "NUMBER", "number": 5}, err("NUMBER", "N\u00famero inv\u00e1lido"))
    expect(conn, {"op": "NUMBER", "number": encrypt_intvalue(new_key(key_size), 5)}, err("NUMBER", "N\u00famero inv\u00e1lido"))
    reply = json.loads(conn.exchange({"op": "STOP"}))
    assert decrypt_intvalue(key, reply["min"]) == min(numbers)
    assert decrypt_intvalue(key, reply["max"]) == max(numbers)
    assert reply == {"op": "STOP", "status": True, "min": encrypt_intvalue(key, min(numbers)),
                     "max": encrypt_intvalue(key, max(numbers))}
    assert rows(server.report)[1] == ["enc%d" % key_size, "5", str(min(numbers)), str(max(numbers))]


def test_require_cipher(minmax_server):
    server = minmax_server("--require-cipher")
    conn = Connection(server.port)
    expect(conn, {"op": "START", "client_id": "p", "cipher": None}, err("START", "Cifra obrigat\u00f3ria"))
    expect(conn, {"op": "START", "client_id": "p", "cipher": key_text(new_key())}, ok("START"))


def test_servidor_ocupado(minmax_server):
    server = minmax_server("--max-connections", "1")
    first = Connection(server.port)
    expect(first, {"op": "QUIT"}, err("QUIT", "Cliente inexistente"))
    second = Connection(server.port)
    assert recv_frame(second.sock) == json.dumps(err(None, "Servidor ocupado")).encode()
    assert second.sock.recv(1) == b""


def test_a_frame_over_the_limit_is_answered_and_closed(minmax_server):
    server = minmax_server()
    conn = Connection(server.port)
    conn.sock.sendall((2**31 - 1).to_bytes(4, "big") + b"{")
    assert recv_frame(conn.sock) == json.dumps(err(None, "Mensagem inv\u00e1lida")).encode()
    assert conn.sock.recv(1) == b""


def test_pipelined_requests_are_answered_in_order(minmax_server):
    from minmax_ref import encode_frame

    server = minmax_server()
    conn = Connection(server.port)
    requests = [{"op": "START", "client_id": "pipe"}] + [{"op": "NUMBER", "number": n} for n in range(-50, 50)] + [{"op": "STOP"}]
    conn.sock.sendall(b"".join(encode_frame(request) for request in requests))
    replies = [recv_frame(conn.sock) for _ in requests]
    assert replies[0] == json.dumps(ok("START")).encode()
    assert all(reply == json.dumps(ok("NUMBER")).encode() for reply in replies[1:-1])
    assert replies[-1] == json.dumps({"op": "STOP", "status": True, "min": -50, "max": 49}).encode()


def test_the_report_reads_back_with_the_csv_module(minmax_server):
    server = minmax_server()
    conn = Connection(server.port)
    sessions = {'a,"b"': [3, 1], "Jos\u00e9": [-5], "plain": [10**30, -(10**30)]}
    for client_id, numbers in sessions.items():
        expect(conn, {"op": "START", "client_id": client_id}, ok("START"))
        for number in numbers:
            expect(conn, {"op": "NUMBER", "number": number}, ok("NUMBER"))
        expect(conn, {"op": "STOP"}, {"op": "STOP", "status": True, "min": min(numbers), "max": max(numbers)})
    with open(server.report, "rb") as report:
        raw = report.read()
    assert raw.startswith(b"client_id,count,min,max\r\n") and raw.endswith(b"\r\n")
    assert rows(server.report) == [["client_id", "count", "min", "max"]] + [
        [client_id, str(len(numbers)), str(min(numbers)), str(max(numbers))] for client_id, numbers in sessions.items()
    ]
    # Byte for byte what Python's csv.writer writes for the same rows.
    import io

    expected = io.StringIO(newline="")
    writer = csv.writer(expected)
    writer.writerow(["client_id", "count", "min", "max"])
    for client_id, numbers in sessions.items():
        writer.writerow([client_id, len(numbers), min(numbers), max(numbers)])
    assert raw == expected.getvalue().encode()


def test_a_reset_does_not_disturb_other_clients(minmax_server):
    import struct

    server = minmax_server()
    bystander = Connection(server.port)
    expect(bystander, {"op": "START", "client_id": "bystander"}, ok("START"))
    victim = Connection(server.port)
    expect(victim, {"op": "START", "client_id": "victim"}, ok("START"))
    victim.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    victim.close()
    expect(bystander, {"op": "NUMBER", "number": 1}, ok("NUMBER"))
    expect(bystander, {"op": "STOP"}, {"op": "STOP", "status": True, "min": 1, "max": 1})
