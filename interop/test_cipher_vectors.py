"""The known-answer vectors the Rust tests use (core/tests/data/cipher-vectors.json) must be
exactly what pycryptodome produces today: regenerate them and compare."""

import json
import pathlib

import cipher_vectors

COMMITTED = pathlib.Path(__file__).resolve().parent.parent / "core" / "tests" / "data" / "cipher-vectors.json"


def test_pycryptodome_still_produces_the_committed_vectors():
    committed = json.loads(COMMITTED.read_text())
    regenerated = {"vectors": list(cipher_vectors.vectors())}
    assert regenerated == committed
    assert len(committed["vectors"]) == 68


def test_the_committed_file_is_the_generators_exact_output():
    expected = json.dumps({"vectors": list(cipher_vectors.vectors())}, indent=1) + "\n"
    assert COMMITTED.read_text() == expected
