"""Loads the gpt SQLite module from Debian's Python, as a Python user would.

    /usr/bin/python3 tests/sqlite/test_python.py ./sqlite_ext/gpt

GPT_MODEL must name a model (tests/sqlite/run.sh sets it).
"""
import sqlite3
import sys
import threading
import time


def main():
    module = sys.argv[1] if len(sys.argv) > 1 else "./sqlite_ext/gpt"
    con = sqlite3.connect(":memory:")
    con.enable_load_extension(True)
    con.load_extension(module)
    con.enable_load_extension(False)

    text, = con.execute(
        "SELECT gpt_generate(?, json_object('max_tokens', 8, 'seed', 1))",
        ("The cat is lying on the",)).fetchone()
    again, = con.execute(
        "SELECT gpt_generate(?, json_object('max_tokens', 8, 'seed', 1))",
        ("The cat is lying on the",)).fetchone()
    assert isinstance(text, str) and text == again, (text, again)

    rows = con.execute(
        "SELECT rank, token, bytes, prob FROM gpt_next_token_probs(?, 3)",
        ("Hello",)).fetchall()
    assert [r[0] for r in rows] == [1, 2, 3], rows
    assert all(isinstance(r[2], bytes) for r in rows), rows
    assert rows[0][3] >= rows[1][3] >= rows[2][3], rows

    ids, = con.execute("SELECT gpt_tokenize(?)",
                       ("讲一个“行权”和“A+”的故事",)).fetchone()
    back, = con.execute("SELECT gpt_detokenize(?)", (ids,)).fetchone()
    assert back == "讲一个“行权”和“A+”的故事", back

    try:
        con.execute("SELECT gpt_generate('x', '{\"temprature\": 1}')")
        raise AssertionError("unknown key accepted")
    except sqlite3.OperationalError as e:
        assert "unknown key \"temprature\"" in str(e), e

    # Connection.interrupt() from another thread stops a long statement.
    def later():
        time.sleep(0.3)
        con.interrupt()
    t = threading.Thread(target=later)
    t.start()
    start = time.monotonic()
    try:
        con.execute(
            "WITH RECURSIVE s(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM s "
            "WHERE v < 1000000) SELECT count(gpt_generate('x', "
            "json_object('seed', v, 'max_tokens', 20))) FROM s").fetchone()
        raise AssertionError("not interrupted")
    except sqlite3.OperationalError as e:
        assert "interrupted" in str(e), e
    t.join()
    elapsed = time.monotonic() - start
    assert elapsed < 1.5, elapsed
    con.close()
    print(f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}: "
          f"ok ({text!r})")


if __name__ == "__main__":
    main()
