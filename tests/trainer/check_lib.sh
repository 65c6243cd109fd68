# What the trainer's shell tests share (sourced by cli_test.sh and distributed_test.sh): a failure counter,
# fail and expect. Read next: tests/trainer/cli_test.sh.
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect CODE REGEX -- COMMAND...: the exit code must be CODE and the output (stdout + stderr) match REGEX.
expect() {
  local want_code=$1 pattern=$2; shift 3
  local output code
  output=$("$@" 2>&1); code=$?
  if [ "$code" != "$want_code" ]; then
    fail "exit code $code (expected $want_code) from: $*"; echo "$output" | tail -15; return
  fi
  if ! grep -Eq -- "$pattern" <<<"$output"; then
    fail "output does not match /$pattern/ from: $*"; echo "$output" | tail -15; return
  fi
  echo "ok: exit $code, /$pattern/ <- ${*:2}"
}
