"""Alembic environment and revisions, shipped inside the package so `easel migrate` needs no alembic.ini."""
