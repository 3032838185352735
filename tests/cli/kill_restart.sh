# Sourced by test scripts that kill a job and restart it (plugin_install.sh,
# enrich_http.sh; crash_test.sh has its own loop, with crash points).
#
# kill_restart BIN YAML LOG KILLS P...: runs `BIN run -q -p P YAML`, P cycling
# through the list, and kills it with SIGKILL KILLS times (each time after its
# first checkpoint completed, then 0.2 to 0.7 s later), restarting it, until a
# run ends by itself. The runs' stderr is appended to LOG. Returns 1 (after
# printing why) if that last run failed. Sets kill_restart_kills and
# kill_restart_runs; keeps the running job's pid in `pid` (for the caller's
# EXIT trap).
kill_restart() {
  local bin="$1" yaml="$2" log="$3" kills="$4"
  shift 4
  local plist=("$@") run=0 killed=0 status p
  while true; do
    p=${plist[$((run % ${#plist[@]}))]}
    run=$((run + 1))
    "$bin" run -q -p "$p" "$yaml" 2>"$log.run" &
    pid=$!
    if [ $killed -lt "$kills" ]; then
      for _ in $(seq 200); do
        grep -q "complete" "$log.run" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
      done
      sleep "0.$((RANDOM % 6 + 2))"
      cat "$log.run" >>"$log"
      if kill -9 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true
        pid=""
        killed=$((killed + 1))
        continue
      fi
    fi
    status=0
    wait "$pid" || status=$?
    pid=""
    cat "$log.run" >>"$log"
    if [ $status -ne 0 ]; then
      echo "run $run exited $status: $(tail -5 "$log")"
      return 1
    fi
    break
  done
  kill_restart_kills=$killed
  kill_restart_runs=$run
}
