# Shell functions to run a throwaway Redis server. Source this file.
#
#   redis_start DIR   start redis-server listening on the unix socket
#                     DIR/redis.sock only (no port to collide with), with no
#                     persistence, and set REDIS_TEST_URL to a URL for it.
#                     Returns 1 when redis-server is not installed.
#   redis_stop DIR    stop the server started in DIR.

redis_start() {
	local dir=$1
	command -v redis-server >/dev/null 2>&1 || return 1
	redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 \
		--save "" --appendonly no --dir "$dir" \
		--daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" || return 1
	local i
	for i in $(seq 100); do
		[ -S "$dir/redis.sock" ] && { REDIS_TEST_URL="unix://$dir/redis.sock"; return 0; }
		sleep 0.1
	done
	tail -20 "$dir/redis.log" >&2
	return 1
}

redis_stop() {
	local dir=$1
	[ -f "$dir/redis.pid" ] || return 0
	kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
}
