from tests.monitor.conftest import boxes, dns, webhook  # noqa: F401  (the same fixtures)
