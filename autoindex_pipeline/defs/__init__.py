import os
import warnings

import dagster as dg

# BackfillPolicy is marked beta in Dagster 1.13; the warning repeats on every load and says
# nothing a user can act on.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

# A single-run backfill of N sessions logs a planned and a materialization event per partition.
# Dagster writes them one by one (a connection and a NOTIFY each on PostgreSQL) unless batching
# is on: with it, a 5-year backfill on PostgreSQL storage drops from ~79 s to ~50 s
# (benchmarks/README.md). Set here so every process that loads the code location (run workers
# included) batches; an explicit value in the environment wins.
os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", "1000")
