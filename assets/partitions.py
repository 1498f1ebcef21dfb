"""Quarter partitions: one per quarter folder (`2026Q3`) under EXTRACTS_DIR.

Dynamic, so a new quarter folder becomes a partition without a code change: the quarter sensor
and `pipelines.run_quarter` register folders as they appear.
"""

from dagster import DynamicPartitionsDefinition

QUARTER_PARTITIONS_NAME = "quarter"
quarter_partitions = DynamicPartitionsDefinition(name=QUARTER_PARTITIONS_NAME)
