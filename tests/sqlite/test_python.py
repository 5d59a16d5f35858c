"""Loads the gpt SQLite module from Debian's Python, as a Python user would,
and checks that it gives byte-identical results to the command-line tool.

    /usr/bin/python3 tests/sqlite/test_python.py ./sqlite_ext/gpt [build/gpt]

GPT_MODEL must name a model (tests/sqlite/run.sh sets it).
"""
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time

# (prompt, options JSON for SQLite, the same options for the CLI)
CLI_CASES = [
    ("The cat is lying on the", {}, []),
    ("The cat is lying on the", {"max_tokens": 20, "seed": 7},
     ["--max-tokens", "20", "--seed", "7"]),
    ("讲一个“行权”和“A+”的故事", {"max_tokens": 12, "temperature": 0},
     ["--max-tokens", "12", "--temperature", "0"]),
    ("", {"max_tokens": 8, "top_k": 5, "top_p": 0.5, "seed": 3},
     ["--max-tokens", "8", "--top-k", "5", "--top-p", "0.5", "--seed", "3"]),
    ("x<|endoftext|>y", {"max_tokens": 10, "temperature": 1.5, "top_k": 0,
                         "top_p": 1, "seed": 11},
     ["--max-tokens", "10", "--temperature", "1.5", "--top-k", "0",
      "--top-p", "1", "--seed", "11"]),
    ("The cat", {"max_tokens": 20, "seed": 4, "stop": ["GMT", "zzz"]},
     ["--max-tokens", "20", "--seed", "4", "--stop", "GMT", "--stop", "zzz"]),
]


def cli(tool, *args):
    out = subprocess.run([tool, *args, "--model", os.environ["GPT_MODEL"],
                          "--threads", "1"], stdin=subprocess.DEVNULL,
                         capture_output=True, check=True).stdout
    assert out.endswith(b"\n"), out
    return out[:-1]


def compare_cli(con, tool):
    """The module and the CLI give the same bytes for the same inputs."""
    for prompt, options, args in CLI_CASES:
        mine, = con.execute("SELECT CAST(gpt_generate(?, ?) AS BLOB)",
                            (prompt, json.dumps(options))).fetchone()
        theirs = cli(tool, "generate", *args, prompt)
        assert mine == theirs, (prompt, options, mine, theirs)
    text = "Hello world 讲一个“行权”和“A+”的故事<|endoftext|>"
    ids, = con.execute("SELECT gpt_tokenize(?)", (text,)).fetchone()
    assert json.loads(ids) == json.loads(cli(tool, "tokenize", text)), ids
    rows = con.execute("SELECT rank, token_id, printf('%.6f', prob) FROM "
                       "gpt_next_token_probs(?, 5)", (text,)).fetchall()
    theirs = [line.split(b"\t") for line in
              cli(tool, "probs", "--k", "5", text).split(b"\n")]
    assert [(r[0], r[1], r[2]) for r in rows] == \
        [(int(t[0]), int(t[1]), t[3].decode()) for t in theirs], (rows, theirs)
    n = len(CLI_CASES) + 2
    # Streaming: the rows of gpt_generate_tokens concatenate to the CLI's
    # --stream output; gpt_generate_each gives every prompt the CLI's text.
    for prompt, options, args in CLI_CASES:
        mine, = con.execute(
            "SELECT CAST(coalesce(group_concat(token, ''), '') AS BLOB) FROM "
            "(SELECT token FROM gpt_generate_tokens(?, ?) ORDER BY step)",
            (prompt, json.dumps(options))).fetchone()
        theirs = cli(tool, "generate", "--stream", *args, prompt)
        assert mine == theirs, (prompt, options, mine, theirs)
        n += 1
    prompts = [case[0] for case in CLI_CASES[:3]]
    rows = con.execute(
        "SELECT idx, CAST(completion AS BLOB) FROM gpt_generate_each(?, ?)",
        (json.dumps(prompts), json.dumps(CLI_CASES[1][1]))).fetchall()
    for idx, mine in rows:
        theirs = cli(tool, "generate", *CLI_CASES[1][2], prompts[idx])
        assert mine == theirs, (prompts[idx], mine, theirs)
        n += 1
    # Log-probabilities, as the CLI prints them (%.9g).
    rows = con.execute("SELECT token_id, logprob FROM gpt_token_logprobs(?)",
                       (text,)).fetchall()
    theirs = json.loads(cli(tool, "logprobs", text))
    assert [(i, "%.9g" % lp) for i, lp in rows] == \
        [(i, "%.9g" % lp) for i, lp in theirs], (rows, theirs)
    return n + 1


def shared_sessions(module, con):
    """Connections of one process share the mapped model and a pool of
    sessions (sqlite_ext/registry.c).  Calls interleaved between two
    connections, one of them with a stream open, give what each gives
    alone."""
    q = "SELECT gpt_generate(?, json_object('max_tokens', 12, 'seed', 5))"
    stream = ("SELECT token FROM gpt_generate_tokens(?, "
              "json_object('max_tokens', 12, 'seed', 5)) ORDER BY step")
    prompts = ["The cat is lying on the", "The cat is lying on the mat",
               "Hello", "The cat is lying"]
    alone = [con.execute(q, (p,)).fetchone()[0] for p in prompts]
    streamed = "".join(t for t, in con.execute(stream, (prompts[1],)))
    assert streamed == alone[1], (streamed, alone[1])
    other = sqlite3.connect(":memory:")
    other.enable_load_extension(True)
    other.load_extension(module)
    cur = con.execute(stream, (prompts[1],))
    parts = [cur.fetchone()[0], cur.fetchone()[0]]
    for i in (3, 0, 2, 1):
        got = (other if i % 2 else con).execute(q, (prompts[i],)).fetchone()[0]
        assert got == alone[i], (i, got, alone[i])
    parts += [t for t, in cur.fetchall()]
    assert "".join(parts) == alone[1], (parts, alone[1])
    other.close()
    return len(prompts) + 1


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

    # Every result is valid UTF-8: Python refuses to decode anything else.
    texts = con.execute(
        "WITH RECURSIVE s(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM s "
        "WHERE v < 30) SELECT gpt_generate('讲一个', json_object('seed', v, "
        "'max_tokens', 6, 'temperature', 2, 'top_k', 0, 'top_p', 1)) "
        "FROM s").fetchall()
    assert len(texts) == 30 and all(isinstance(t, str) for t, in texts)

    shared_sessions(module, con)

    compared = 0
    if len(sys.argv) > 2 and os.path.exists(sys.argv[2]):
        compared = compare_cli(con, sys.argv[2])

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

    # The same inside one long gpt_generate_each batch (a single core
    # call); afterwards the connection and its session still work.
    t = threading.Thread(target=later)
    t.start()
    start = time.monotonic()
    try:
        con.execute(
            "SELECT count(*) FROM gpt_generate_each((WITH RECURSIVE s(v) AS "
            "(SELECT 1 UNION ALL SELECT v + 1 FROM s WHERE v < 5000) SELECT "
            "json_group_array(printf('%0120d', v)) FROM s), "
            "'{\"max_tokens\": 8}')").fetchone()
        raise AssertionError("batch not interrupted")
    except sqlite3.OperationalError as e:
        assert "gpt_generate_each: interrupted" in str(e), e
    t.join()
    elapsed = time.monotonic() - start
    assert elapsed < 1.5, elapsed
    bad, = con.execute(
        "SELECT count(*) FROM gpt_generate_each('[\"The cat\", null, "
        "\"A dog\"]', '{\"max_tokens\": 6}') e WHERE e.completion IS NOT "
        "gpt_generate(e.prompt, '{\"max_tokens\": 6}')").fetchone()
    assert bad == 0, bad

    # Streaming: a cursor gets the first tokens without waiting for the
    # rest, may stop early, and an interrupt between rows ends the stream;
    # the next stream starts afresh.
    opts = '{"max_tokens": 100, "seed": 3}'
    whole, = con.execute("SELECT gpt_generate('The cat', ?)",
                         (opts,)).fetchone()
    cur = con.execute("SELECT token FROM gpt_generate_tokens('The cat', ?)",
                      (opts,))
    first = [cur.fetchone()[0] for _ in range(3)]
    assert whole.startswith("".join(first)), (first, whole)
    con.interrupt()
    try:
        cur.fetchall()
        raise AssertionError("stream not interrupted")
    except sqlite3.OperationalError as e:
        assert "interrupted" in str(e), e
    again = "".join(t for t, in con.execute(
        "SELECT token FROM gpt_generate_tokens('The cat', ?)", (opts,)))
    assert again == whole, (again, whole)
    con.close()
    print(f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}: "
          f"ok, {compared} results identical to the CLI ({text!r})")


if __name__ == "__main__":
    main()
