# Sourced by scripts that start `voxir serve` for a while (scripts/demo, scripts/load-test).
# start_server VOXIR INDEX LOG [serve options...]: starts it on a free loopback port with its
# stderr in LOG; sets $server (its pid) and $port once it listens. Exits 1 with the log when it
# does not start within 10 s.
start_server() {
  local voxir=$1 index=$2 log=$3
  shift 3
  "$voxir" serve "$index" --port 0 "$@" 2>"$log" &
  server=$!
  port=""
  for _ in $(seq 100); do
    port=$(grep -o 'on http://127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    [[ -n $port ]] && return 0
    sleep 0.1
  done
  echo "the server did not start:" >&2
  cat "$log" >&2
  kill "$server" 2>/dev/null
  exit 1
}
