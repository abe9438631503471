"""The notifier: severity routing from autoindex.yaml's `notifications` block; webhook URLs and
SMTP passwords come from the environment variables that block names."""

import dagster as dg

from autoindex_pipeline.alerting.notifier import Notifier
from autoindex_pipeline.defs.resources import SettingsResource


class NotifierResource(dg.ConfigurableResource):
    settings: SettingsResource

    def notifier(self) -> Notifier:
        return Notifier(self.settings.config.notifications)
