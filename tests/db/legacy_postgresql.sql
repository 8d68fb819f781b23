-- The schema Easel's create_all made before migrations (git show a22ea2e:easel/tasks/models.py), postgresql.
CREATE TABLE api_keys (
	id VARCHAR(32) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	key_hash VARCHAR(64) NOT NULL, 
	key_prefix VARCHAR(16) NOT NULL, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	revoked_at TIMESTAMP WITHOUT TIME ZONE, 
	PRIMARY KEY (id)
);

CREATE UNIQUE INDEX ix_api_keys_key_hash ON api_keys (key_hash);

CREATE TABLE tasks (
	id VARCHAR(64) NOT NULL, 
	owner_key_id VARCHAR(32) NOT NULL, 
	workspace VARCHAR(128) NOT NULL, 
	api VARCHAR(16) NOT NULL, 
	batch_id VARCHAR(64), 
	batch_index INTEGER NOT NULL, 
	model VARCHAR(128) NOT NULL, 
	function VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	request JSON NOT NULL, 
	results JSON, 
	extra_output JSON, 
	usage JSON, 
	code VARCHAR(64), 
	message TEXT, 
	submit_time TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	scheduled_time TIMESTAMP WITHOUT TIME ZONE, 
	end_time TIMESTAMP WITHOUT TIME ZONE, 
	attempts INTEGER NOT NULL, 
	worker_id VARCHAR(128), 
	heartbeat_at TIMESTAMP WITHOUT TIME ZONE, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_tasks_owner_submit ON tasks (owner_key_id, submit_time);

CREATE INDEX ix_tasks_batch ON tasks (batch_id) WHERE batch_id IS NOT NULL;

CREATE INDEX ix_tasks_status_submit ON tasks (status, submit_time);

CREATE TABLE blobs (
	key VARCHAR(512) NOT NULL, 
	owner_key_id VARCHAR(32) NOT NULL, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	size INTEGER NOT NULL, 
	PRIMARY KEY (key)
);

CREATE INDEX ix_blobs_created_at ON blobs (created_at);

CREATE TABLE nonces (
	nonce VARCHAR(128) NOT NULL, 
	key_id VARCHAR(32) NOT NULL, 
	seen_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (nonce, key_id)
);

CREATE INDEX ix_nonces_seen_at ON nonces (seen_at);

CREATE TABLE quota_usage (
	key_id VARCHAR(32) NOT NULL, 
	api VARCHAR(16) NOT NULL, 
	used INTEGER NOT NULL, 
	PRIMARY KEY (key_id, api)
);

CREATE TABLE task_signals (
	task_id VARCHAR(64) NOT NULL, 
	progress INTEGER, 
	cancel_requested BOOLEAN NOT NULL, 
	updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (task_id)
);
