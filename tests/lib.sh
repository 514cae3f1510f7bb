# Shared helpers for the shell test suites: each result line is
# "PASS name", "FAIL name: why" or "SKIP name: why"; tests/run-all.sh counts them.
VMLITE=${VMLITE:-build/vmlite}
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
skip() { echo "SKIP $1: $2"; }

# expect_run NAME WANT_STATUS WANT_STDERR_SUBSTRING -- command...
expect_run() {
    local name=$1 want=$2 msg=$3; shift 4
    local err; err=$(mktemp)
    "$@" </dev/null >/dev/null 2>"$err"
    local got=$?
    if [ "$got" != "$want" ]; then
        fail "$name" "exit status $got, wanted $want ($(head -c 300 "$err" | tr '\n' ' '))"
    elif [ -n "$msg" ] && ! grep -qF -- "$msg" "$err"; then
        fail "$name" "stderr lacks '$msg': $(head -c 300 "$err" | tr '\n' ' ')"
    else
        pass "$name"
    fi
    rm -f "$err"
}
