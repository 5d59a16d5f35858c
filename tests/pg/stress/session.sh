# tests/pg/stress/session.sh - long-lived psql sessions for the shell tests,
# sourced by faults.sh.
#
# A test of "a backend that holds the old model" needs a connection that
# stays open while the script renames and removes files, and a call that is
# still running while it does.  Each session is a psql process reading
# from a fifo; sq_send writes SQL without waiting, sq_recv reads until a
# marker so that a hang is a test failure (read -t), not a stuck CI job.
# Errors are printed as "ERROR:  SQLSTATE: message" (VERBOSITY verbose).
#
# Needs $WORK (a scratch directory) and the PG* variables.

SQ_TIMEOUT=${SQ_TIMEOUT:-60}

# sq_open NAME: starts session NAME (fd variables NAME_w / NAME_r).
sq_open() {
    local n=$1
    rm -f "$WORK/$n.in" "$WORK/$n.out"
    mkfifo "$WORK/$n.in" "$WORK/$n.out"
    psql -X -q -A -t -v ON_ERROR_STOP=0 -v VERBOSITY=verbose \
        <"$WORK/$n.in" >"$WORK/$n.out" 2>&1 &
    eval "${n}_pid=\$!"
    eval "exec {${n}_w}>\"\$WORK/\$n.in\" {${n}_r}<\"\$WORK/\$n.out\""
    sq "$n" 'SELECT 1' >/dev/null
}

# sq_send NAME SQL: sends statements (the last ";" may be left out); their
# output is read by sq_recv.
sq_send() {
    local fd
    eval "fd=\$${1}_w"
    # no SIGPIPE for the script if psql is gone: sq_recv reports it
    (trap '' PIPE; printf '%s;\n\\echo __sq_done__\n' "$2" >&"$fd") 2>/dev/null || true
}

# sq_recv NAME: prints the output of the last statement sent (the first
# line of an error: "ERROR:  SQLSTATE: message"; what psql said, then
# "(session ended)", when it exited).  Fails after $SQ_TIMEOUT seconds
# without an answer.
sq_recv() {
    local fd line out="" err="" rc
    eval "fd=\$${1}_r"
    while :; do
        rc=0
        IFS= read -r -t "$SQ_TIMEOUT" line <&"$fd" || rc=$?
        if [ "$rc" != 0 ]; then
            if [ "$rc" -gt 128 ]; then
                echo "session $1: no answer within ${SQ_TIMEOUT}s" >&2
                return 1
            fi
            # psql ended (the server closed the connection): what it said
            out=${out:+$out$'\n'}${line:+$line$'\n'}"(session ended)"
            break
        fi
        [ "$line" = __sq_done__ ] && break
        case $line in
            ERROR:*) [ -z "$err" ] && err=$line ;;
            LOCATION:* | DETAIL:* | HINT:* | CONTEXT:* | STATEMENT:*) ;;
            *) out=${out:+$out$'\n'}$line ;;
        esac
    done
    if [ -n "$err" ]; then printf '%s\n' "$err"; else printf '%s\n' "$out"; fi
}

# sq NAME SQL: sends and waits.
sq() { sq_send "$1" "$2" && sq_recv "$1"; }

# sq_close NAME: ends the session.
sq_close() {
    local fd pid
    eval "fd=\$${1}_w; pid=\$${1}_pid"
    # psql may be gone already: no SIGPIPE for the script
    (trap '' PIPE; printf '\\q\n' >&"$fd") 2>/dev/null || true
    eval "exec ${fd}>&-"
    eval "fd=\$${1}_r"
    eval "exec ${fd}<&-"
    wait "$pid" 2>/dev/null || true
}
