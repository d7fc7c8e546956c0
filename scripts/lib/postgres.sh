# Shell functions to run a throwaway Postgres cluster. Source this file.
#
#   pg_start DIR   initdb DIR if it holds no cluster, start it listening on a
#                  unix socket in DIR/sock only (no port to collide with), and
#                  set PG_URL to a URL for it. As root, runs as the postgres
#                  user, since initdb and postgres refuse to run as root.
#   pg_stop DIR    stop the cluster in DIR.

# pg_bindir prints the directory holding initdb and pg_ctl.
pg_bindir() {
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
		return 0
	fi
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

pg_no_binaries() {
	cat >&2 <<'MSG'
No PostgreSQL server binaries (initdb, pg_ctl) were found on PATH or in
/usr/lib/postgresql/*/bin. Any one of these gets you going:
  1. install them:        apt-get install postgresql   (or your OS's package)
  2. use a server you have: DATABASE_URL=postgres://user@host/db scripts/run
                            TEST_DATABASE_URL=postgres://user@host/db scripts/test
  3. with Docker:          docker compose up
MSG
}

# pg_as_owner runs a command as the owner of the cluster files.
pg_as_owner() {
	if [ "$(id -u)" = 0 ]; then
		# From /, since the caller's folder may be private to root.
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

pg_start() {
	local dir=$1 bin
	bin=$(pg_bindir) || { pg_no_binaries; return 1; }
	mkdir -p "$dir/sock"
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || { echo "running as root, but there is no postgres user to run the server as" >&2; return 1; }
		chown -R postgres: "$dir"
		if ! runuser -u postgres -- test -w "$dir"; then
			echo "the postgres user cannot reach $dir (a parent folder is private); pick a folder it can reach" >&2
			return 1
		fi
	fi
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		pg_as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; return 1; }
	fi
	# A cluster left running by an earlier run that was killed is reused.
	pg_as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 ||
	pg_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
		-o "-c listen_addresses='' -k '$dir/sock' -c fsync=${PG_FSYNC:-on} -c max_connections=200" start >/dev/null ||
		{ tail -20 "$dir/postgres.log" >&2; return 1; }
	PG_URL="postgres://postgres@/postgres?host=$dir/sock&sslmode=disable"
}

pg_stop() {
	local dir=$1 bin
	bin=$(pg_bindir) || return 0
	[ -f "$dir/data/postmaster.pid" ] || return 0
	pg_as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}
