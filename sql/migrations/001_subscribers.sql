-- One row per mailbox per list. address_key is the dedupe key (lowercased,
-- provider rules applied); address is what the subscriber typed, trimmed,
-- with the domain in lowercase A-label form.
create table subscribers (
	id          bigint generated always as identity primary key,
	list        text        not null,
	address     text        not null,
	address_key text        not null,
	name        text        not null default '',
	client_ip   inet,
	created_at  timestamptz not null default now(),
	constraint subscribers_list_key unique (list, address_key)
);

---- create above / drop below ----

drop table subscribers;
