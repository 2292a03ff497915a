#!/usr/bin/env bash
# A load-balanced deployment on this machine: redis-server (user state and
# the catalog stream), N replicas of the server on the demo world sharing it,
# and nginx in front
# (deploy/nginx-grpc.conf), all on loopback. Prints where to call; Ctrl-C (or
# the end of the script's process) stops everything it started.
#
#   bash scripts/cluster.sh [--replicas 2] [--port 50050] [--redis-port 6379]
#
# Admin calls (UpsertItems, DeleteItems) take the token in $RANKING_ADMIN_TOKEN
# (default: a random one, printed). Needs a build (npm run build) and Debian's redis-server and nginx
# (scripts/install-system-deps.sh). State and logs go to .data/cluster/.
set -euo pipefail
cd "$(dirname "$0")/.."

replicas=2
port=50050
redis_port=6379
while [ $# -gt 0 ]; do
  case "$1" in
    --replicas) replicas="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --redis-port) redis_port="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

dir="$(pwd)/.data/cluster"
token="${RANKING_ADMIN_TOKEN:-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
mkdir -p "$dir/nginx/tmp" "$dir/redis"
pids=()
stop() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "cluster stopped"
}
trap stop EXIT INT TERM

wait_for() { # host port what
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$3 did not listen on $1:$2" >&2
  exit 1
}

redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir/redis" --appendonly yes --appendfsync everysec --save '' >"$dir/redis/log" 2>&1 &
pids+=($!)
wait_for 127.0.0.1 "$redis_port" redis-server

servers=""
for i in $(seq 1 "$replicas"); do
  grpc=$((port + 10 + i))
  http=$((port + 30 + i))
  node dist/tools/serve-demo.js --host 127.0.0.1 --grpc-port "$grpc" --http-port "$http" \
    --user-store "redis://127.0.0.1:$redis_port" --catalog-stream "redis://127.0.0.1:$redis_port" \
    --admin-token "$token" >"$dir/replica-$i.log" 2>&1 &
  pids+=($!)
  servers="${servers}server 127.0.0.1:$grpc; "
  # The first replica generates the demo world if needed: let it finish first.
  if [ "$i" -eq 1 ]; then
    until curl -sf "http://127.0.0.1:$http/healthz" >/dev/null; do sleep 0.5; done
  fi
done
for i in $(seq 1 "$replicas"); do
  until curl -sf "http://127.0.0.1:$((port + 30 + i))/healthz" >/dev/null; do sleep 0.5; done
done

sed -e "s|@LISTEN@|127.0.0.1:$port|" -e "s|@SERVERS@|$servers|" deploy/nginx-grpc.conf >"$dir/nginx/nginx.conf"
nginx -p "$dir/nginx" -c nginx.conf -g 'daemon off;' 2>"$dir/nginx/log" &
pids+=($!)
wait_for 127.0.0.1 "$port" nginx

echo "serving: gRPC through nginx at 127.0.0.1:$port ($replicas replicas, user state and catalog stream in redis://127.0.0.1:$redis_port)"
echo "admin token (UpsertItems, DeleteItems): $token"
for i in $(seq 1 "$replicas"); do echo "  replica $i: gRPC 127.0.0.1:$((port + 10 + i)), metrics http://127.0.0.1:$((port + 30 + i))/metrics"; done
echo "try: npm run -s call -- --address 127.0.0.1:$port Rank '{\"user_id\":\"user-000005\",\"num_results\":5}'   (Ctrl-C stops everything)"
wait
