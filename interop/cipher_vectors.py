"""Known-answer vectors for the assignment's number encryption (PROTOCOL.md section 5),
made with pycryptodome exactly as the assignment's Figure 1.5 does it:

    AES.new(key, AES.MODE_ECB).encrypt(bytes("%16d" % n, "utf8")), then base64.

The Rust tests read the committed copy (core/tests/data/cipher-vectors.json); the
interop suite runs this script again and checks that pycryptodome still produces the
very same bytes. Usage: python cipher_vectors.py > core/tests/data/cipher-vectors.json
"""

import base64
import json

from Crypto.Cipher import AES

# Fixed keys, so that the output is reproducible: one of each size pycryptodome
# accepts, plus the key bytes of the assignment's own example (Figure 1.4).
KEYS = [
    bytes(range(16)),
    b")6\x0c\xba\xfa\x14\xa7iU\xac\x8a~\xe0H~0",
    bytes(range(100, 124)),
    bytes(range(200, 232)),
]

NUMBERS = [
    0, 1, -1, 5, -3, 12, 42, -42, 1000, 65535, -65536, 2**31 - 1, -(2**31),
    1234567890123456, -123456789012345,
    9_999_999_999_999_999,   # the largest %16d value: 16 digits
    -999_999_999_999_999,    # the smallest: 15 digits and the sign
]


def vectors():
    for key in KEYS:
        cipher = AES.new(key, AES.MODE_ECB)
        for number in NUMBERS:
            block = bytes("%16d" % number, "utf8")
            assert len(block) == 16
            encrypted = base64.b64encode(cipher.encrypt(block)).decode("ascii")
            yield {
                "key": base64.b64encode(key).decode("ascii"),
                "number": number,
                "block": block.decode("ascii"),
                "encrypted": encrypted,
            }


if __name__ == "__main__":
    print(json.dumps({"vectors": list(vectors())}, indent=1))
