-- One row per blocklist source: the last good copy and the record of the
-- latest checks. A refused download touches only checked/failed fields, so
-- the copy in force is always one that passed every guard.
create table blocklist_sources (
	name          text primary key,
	location      text        not null,
	fetched_at    timestamptz,          -- null: no good copy yet
	etag          text        not null default '',
	last_modified text        not null default '',
	entries       integer     not null default 0,
	bytes         bigint      not null default 0,
	checksum      text        not null default '',
	-- The copy's prefixes, one per line in canonical form: compact once
	-- TOASTed, and read back without running the list parsers again.
	prefixes      text        not null default '',
	checked_at    timestamptz,
	failed_at     timestamptz,
	last_error    text        not null default ''
);

-- Bumped in the transaction that stores a new copy; serving instances
-- compare it with the one they loaded, a fallback for a lost NOTIFY.
create table blocklist_version (
	id      boolean primary key default true check (id),
	version bigint  not null
);
insert into blocklist_version (version) values (0);

---- create above / drop below ----

drop table blocklist_version;
drop table blocklist_sources;
