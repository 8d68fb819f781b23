"""The database layer shared by tasks/, auth/, queue/ and webhooks/: the tables (easel/db/models.py), engines
and sessions (easel/db/session.py), the schema history (Alembic migrations, easel/db/migrations/) and the
code that applies it (easel/db/migrate.py: `easel migrate`, and every process at start unless
EASEL_AUTO_MIGRATE=0).

A schema change is a model change in easel/db/models.py plus a revision in migrations/versions/ named
NNNN_what.py whose down_revision is the previous head; tests/db/test_migrations.py fails while the two
disagree. To draft a revision from the models, on a database already at head:

    from alembic import command
    from sqlalchemy import create_engine
    from easel.db.migrate import alembic_config
    config = alembic_config()
    with create_engine(URL).connect() as conn:
        config.attributes["connection"] = conn
        command.revision(config, message="what", autogenerate=True, rev_id="0006_what")
"""
