"""Officer-facing spreadsheets: district verification workbooks (out and back) and quarterly reports.

Pure library (no Dagster). `workbooks` exports 核查名单 and imports the filled ones into `reviews`;
`quarterly` writes the 报表 workbook with its chart.
"""
