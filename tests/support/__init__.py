"""What tests share besides fixtures: the environment (paths, CI), the MySQL test
database, the bot against the loopback Discord, job helpers, the embed renderer.
Fixtures and pytest hooks stay in tests/conftest.py; loopback fakes are in tests/fakes/,
data and their generators in tests/fixtures/."""
