"""Operations library: alerts, notification, performance reports, backups, the ops calendar.

No Dagster import anywhere in this package: the Dagster layer (``defs/ops/``) wires these into
sensors, schedules, report assets and a backup job; scripts and tests call them directly.

* :mod:`.alerts` - pure alert rules (methodology section 11) and the dedup ledger for sensor cursors;
* :mod:`.notify` - routes an alert by severity to the log, a Slack webhook and email; never raises;
* :mod:`.performance` - daily / weekly / monthly performance figures, chart and HTML report;
* :mod:`.backup` - ``pg_dump`` + restore into a scratch database + row count / checksum comparison;
* :mod:`.calendar` - the operations calendar (which maintenance runs when, and what it replaces).
"""
