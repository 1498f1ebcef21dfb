"""The DuckDB warehouse (pure library, no Dagster). Public tables follow ../shared/contract/WAREHOUSE.md.

One module per job:
- `connection`: opening the warehouse (owner-only, bounded memory, migrated) and transactions;
- `migrations`: the versioned schema;
- `sql`: helpers to run SQL over Python tables, replace rows, compare two tables;
- `digests`: order-free digests of tables, what refreshes compare;
- `run_log`: the records the steps leave, and the names of the ways each step ran;
- `publish`: making the public tables equal to the work tables, by difference, in one transaction;
- `lock`: one writer at a time;
- `faults`: fault injection for the crash-safety tests.

Everything is re-exported here, so `from matchers.warehouse import X` and `warehouse.X` keep working.
"""

from matchers.private_files import PRIVATE_UMASK as _PRIVATE_UMASK
from matchers.warehouse.connection import (
    MEMORY_LIMIT_ENV,
    TEMP_DIR_ENV,
    connect,
    duckdb_config,
    transaction,
)
from matchers.warehouse.digests import (
    RESOLUTION_COLUMNS,
    quarter_digest,
    row_hash,
    source_row_digests,
    staged_source_digests,
    table_columns,
    table_digest,
)
from matchers.warehouse.faults import CRASH_ENV, PAUSE_ENV, PAUSE_SECONDS_ENV
from matchers.warehouse.faults import crash_point as _crash_point
from matchers.warehouse.lock import WarehouseBusy, WriterLock
from matchers.warehouse.migrations import MIGRATIONS_DIR, migrate, migrations, schema_version
from matchers.warehouse.publish import (
    WHOLE_SHARE,
    _changed_sources,
    _recreate_persons,
    _replace_all,
    _replace_quarter,
    _replace_sources,
    _table_ddl,
    publish_difference,
    publish_quarter,
)
from matchers.warehouse.run_log import (
    FLAGS_FULL,
    FLAGS_SCOPED,
    FLAGS_STEP,
    RESOLUTION_FULL,
    RESOLUTION_INCREMENTAL,
    RESOLUTION_STEP,
    latest_run_details,
    partial_sources,
    recorded_sources,
)
from matchers.warehouse.sql import (
    differing_sql,
    execute_script,
    register,
    replace_rows,
    temp_table,
    unregister,
)

# Names other modules use under their earlier spelling.
source_digests = source_row_digests
_partial_sources = partial_sources
_recorded_sources = recorded_sources

__all__ = [
    "CRASH_ENV", "FLAGS_FULL", "FLAGS_SCOPED", "FLAGS_STEP", "MEMORY_LIMIT_ENV", "MIGRATIONS_DIR", "PAUSE_ENV",
    "PAUSE_SECONDS_ENV", "RESOLUTION_COLUMNS", "RESOLUTION_FULL", "RESOLUTION_INCREMENTAL", "RESOLUTION_STEP", "TEMP_DIR_ENV",
    "WHOLE_SHARE", "WarehouseBusy", "WriterLock", "_PRIVATE_UMASK", "_changed_sources", "_crash_point",
    "_partial_sources", "_recorded_sources", "_recreate_persons", "_replace_all", "_replace_quarter",
    "_replace_sources", "_table_ddl", "connect", "differing_sql", "duckdb_config", "execute_script",
    "latest_run_details", "migrate", "migrations", "partial_sources", "publish_difference", "publish_quarter",
    "quarter_digest", "recorded_sources", "register", "replace_rows", "row_hash", "schema_version",
    "source_digests", "source_row_digests", "staged_source_digests", "table_columns", "table_digest", "temp_table", "transaction",
    "unregister",
]
