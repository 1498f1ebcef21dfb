"""The rule book (../shared/contract/RULES.md) as DuckDB SQL, its thresholds and its runner."""
