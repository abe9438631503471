import warnings

import dagster as dg

# BackfillPolicy is marked beta in Dagster 1.13; the warning repeats on every load and says
# nothing a user can act on.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
