"""Storage: one schema for MySQL/MariaDB and SQLite, migrations and the queries the rest calls."""
