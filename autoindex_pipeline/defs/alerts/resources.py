"""The notifier: severity routing from autoindex.yaml's `notifications` block; webhook URLs and
SMTP passwords come from the environment variables that block names."""

import dagster as dg

from autoindex_pipeline.alerting.notifier import DeliveryReport, Notifier
from autoindex_pipeline.defs.resources import SettingsResource
from autoindex_pipeline.domain.alerts import Alert


class NotifierResource(dg.ConfigurableResource):
    settings: SettingsResource

    def notifier(self) -> Notifier:
        return Notifier(self.settings.config.notifications)

    def send_all(self, alerts: list[Alert], log) -> list[DeliveryReport]:
        """Deliver and log each outcome. A failing channel never raises (the notifier retries,
        then reports); the sensor carries on and the failure is in its log."""
        reports = self.notifier().send_all(alerts)
        for alert, report in zip(alerts, reports):
            log.info(f"alert {alert.dedup_key} ({alert.severity}): {report.summary()}")
        return reports
