"""`autoindex.yaml`: the one configuration file, validated once on load.

Where the file is: the ``--config`` argument, else ``$AUTOINDEX_CONFIG``, else ``./autoindex.yaml``,
else the packaged default (``autoindex_pipeline/data/autoindex.yaml``). Relative paths inside the
file are resolved against the file's own folder, so a config and its data files travel together.

Every model forbids unknown keys, so a misspelt key is an error that names it instead of a
silently ignored setting. Secrets (API keys, database passwords) are never read from this file:
they come from the environment (``providers.registry.SECRET_ENV_VARS`` names each provider's).
"""

from __future__ import annotations

import datetime as dt
import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from autoindex_pipeline.domain.alerts import Severity
from autoindex_pipeline.domain.params import StrategyParams, StrategyParamsError

PACKAGE_DATA = Path(__file__).parent / "data"
DEFAULT_CONFIG_PATH = PACKAGE_DATA / "autoindex.yaml"
CONFIG_ENV_VAR = "AUTOINDEX_CONFIG"
DATABASE_URL_ENV_VAR = "AUTOINDEX_DATABASE_URL"
DATA_DIR_ENV_VAR = "AUTOINDEX_DATA_DIR"

UNIVERSE_COLUMNS = ("symbol", "name", "asset_class", "sector")
ASSET_CLASSES = ("equity", "etf", "commodity")

NonNegativeFloat = Annotated[float, Field(ge=0)]
PositiveInt = Annotated[int, Field(gt=0)]


class ConfigError(ValueError):
    """The configuration is wrong; the message names the file and the offending key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UniverseConfig(_Strict):
    file: str = "universe.csv"
    """CSV with columns symbol,name,asset_class,sector (relative to the config file)."""
    benchmark: str = "SPY"
    """Ingested like any asset, never an index constituent."""
    symbols: list[str] | None = None
    """Optional subset of the file's symbols (handy for a quick run); None = all of them."""


class SampleProviderConfig(_Strict):
    seed: int = 42


class FilesProviderConfig(_Strict):
    prices_path: str | None = None
    shares_path: str | None = None
    insider_transactions_path: str | None = None
    """CSV/Parquet: symbol,date,insider,shares[,position,value,is_direct,description]."""
    institutional_holdings_path: str | None = None
    """CSV/Parquet: symbol,date_reported,holder,shares[,value,percent_held]."""


class TwelveDataConfig(_Strict):
    base_url: str = "https://api.twelvedata.com"
    batch_size: Annotated[int, Field(gt=0, le=120)] = 120
    credits_per_minute: PositiveInt = 8
    credits_per_day: PositiveInt = 800
    shares_credits_per_call: PositiveInt = 50
    insider_credits_per_call: PositiveInt = 200
    """/insider_transactions, per symbol (the ownership assets)."""
    institutional_credits_per_call: PositiveInt = 1500
    """/institutional_holders, per symbol."""
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    max_attempts: PositiveInt = 5


# The names of providers.registry (which sits above this module, so cannot be imported here;
# test_registry keeps the lists equal).
ProviderName = Literal["sample", "files", "twelvedata"]


class ProvidersConfig(_Strict):
    prices: ProviderName = "sample"
    shares: ProviderName | None = None
    """Where shares outstanding come from; None = the prices provider."""
    sample: SampleProviderConfig = SampleProviderConfig()
    files: FilesProviderConfig = FilesProviderConfig()
    twelvedata: TwelveDataConfig = TwelveDataConfig()

    @model_validator(mode="after")
    def _files_need_paths(self) -> ProvidersConfig:
        if "files" in (self.prices, self.shares) and self.files.prices_path is None and self.prices == "files":
            raise ValueError("providers.files.prices_path is required when providers.prices is 'files'")
        if self.shares == "files" and self.files.shares_path is None:
            raise ValueError("providers.files.shares_path is required when providers.shares is 'files'")
        return self

    @property
    def shares_provider(self) -> str:
        return self.shares or self.prices


class StorageConfig(_Strict):
    data_dir: str = ".autoindex"
    """Embedded default: the SQLite warehouse and Dagster's files live here (relative to the
    working directory). Overridden by $AUTOINDEX_DATA_DIR."""
    database_url: str | None = None
    """Warehouse URL without a password (put secrets in $AUTOINDEX_DATABASE_URL, which wins)."""


class PricesConfig(_Strict):
    calendar: str = "XNYS"
    start_date: dt.date = dt.date(2016, 1, 4)
    """First partition of the trading-day partitioned assets."""
    stale_after_sessions: PositiveInt = 1
    min_symbol_coverage: Annotated[float, Field(gt=0, le=1)] = 0.98
    """A session with fewer symbols than this share of the universe counts as incomplete for
    the smart refresh."""
    hold_incomplete_sessions: Annotated[int, Field(ge=0)] | None = 3
    """Complete sessions only: a session among the newest N stored ones where a constituent has
    no close (and no known reason: a recorded absence, an excluded print, not listed yet) holds
    the index until the close arrives or the gap is settled; an older gap is published with the
    methodology's forward fill and reported. 0 = never hold (missing or refused closes are
    treated as missing at once, "quarantine"); null = hold for every gap until it is settled."""


StrategyConfig = StrategyParams
"""One named strategy: the domain's parameter type, validated here from the YAML mapping (the
old name stays for the code that imports it from here)."""


class EmailSettings(_Strict):
    """SMTP delivery. ``security``: ``starttls`` (plain connection upgraded, port 587),
    ``tls`` (implicit TLS / SMTPS, port 465) or ``none`` (a local relay)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    smtp_host: str
    smtp_port: Annotated[int, Field(gt=0, le=65535)] = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    from_address: str = Field(alias="from")
    to: Annotated[list[str], Field(min_length=1)]
    username: str | None = None
    password_env: str | None = None
    """Name of the environment variable holding the SMTP password (never the password)."""
    email_min_severity: Severity = "critical"
    timeout_seconds: Annotated[float, Field(gt=0)] = 10.0
    max_attempts: Annotated[int, Field(gt=0, le=10)] = 3
    retry_base_seconds: Annotated[float, Field(ge=0)] = 2.0


class NotifierSettings(_Strict):
    """Where alerts go (``notifications:``). The log channel is always on."""

    ui_base_url: str | None = None
    """Dagster UI address (``http://localhost:3000``): alerts carrying a run id link to
    ``{ui_base_url}/runs/{run_id}``."""
    slack_webhook_url_env: str | None = None
    """Name of the environment variable holding the Slack incoming-webhook URL; None = no Slack."""
    slack_min_severity: Severity = "warning"
    slack_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0
    slack_max_attempts: Annotated[int, Field(gt=0, le=10)] = 3
    slack_retry_base_seconds: Annotated[float, Field(ge=0)] = 1.0
    email: EmailSettings | None = None


NewsProviderName = Literal["sample", "files", "marketaux"]


class NewsSampleConfig(_Strict):
    seed: int | None = None
    """None = ``providers.sample.seed``, so one seed makes the whole demo reproducible."""
    mean_per_day: NonNegativeFloat | dict[str, NonNegativeFloat] | None = None
    """Stories per symbol and weekday: one number for every asset class, or per class
    (``{equity: 3.0, etf: 1.0, commodity: 0.6}``, the generator's defaults when None)."""


class NewsFilesConfig(_Strict):
    path: str | None = None
    """JSON Lines file or folder of them (README "News and sentiment" has the schema)."""


class MarketauxConfig(_Strict):
    """Marketaux ``news/all``; the defaults are the free plan's limits."""

    base_url: str = "https://api.marketaux.com"
    requests_per_day: PositiveInt = 100
    requests_per_minute: PositiveInt = 60
    articles_per_request: PositiveInt = 3
    symbols_per_request: PositiveInt = 20
    language: str | None = "en"
    max_pages_per_batch: PositiveInt | None = None
    """Cap on the pages one batch of symbols may spend (None: follow ``meta.found``)."""
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    max_attempts: PositiveInt = 5


class NewsConfig(_Strict):
    provider: NewsProviderName = "sample"
    start_date: dt.date = dt.date(2024, 1, 1)
    """First day partition of the news assets (calendar days in the exchange time zone)."""
    retention_days: PositiveInt = 90
    """Articles dated more than this many days before today move to the archive tables when
    the retention job runs (never deleted)."""
    stale_after_hours: PositiveInt = 24
    """Freshness policy of ``news_articles``: stale when not materialized for this long."""
    sample: NewsSampleConfig = NewsSampleConfig()
    files: NewsFilesConfig = NewsFilesConfig()
    marketaux: MarketauxConfig = MarketauxConfig()

    @model_validator(mode="after")
    def _files_need_a_path(self) -> NewsConfig:
        if self.provider == "files" and self.files.path is None:
            raise ValueError("news.files.path is required when news.provider is 'files'")
        return self


class QualityConfig(_Strict):
    report_sessions: Annotated[int, Field(ge=20)] = 252
    """Sessions the quality report scores (a year by default)."""
    min_portfolio_score: Annotated[float, Field(gt=0, le=1)] = 0.9
    """The gate before allocations (methodology section 10)."""
    reconciliation_provider: ProviderName | None = None
    """A second source whose closes a sample of ours is reconciled against (within 0.2%);
    None = no reconciliation check. `files` reads providers.files.prices_path."""
    reconciliation_sample: PositiveInt = 100
    """Closes drawn per reconciliation (the monthly spot check and, when enabled, each run)."""
    reconciliation_every_run: bool = False
    """Also reconcile the closes of every prices run (a check on `prices`); the documented
    cadence is the monthly `reconciliation_job`."""
    min_validation_rate: Annotated[float, Field(gt=0, le=1)] = 0.95
    """Rows passing every blocking rule / rows checked, per run and per day: below it the
    `validation_rate` check warns."""


class CapacityConfig(_Strict):
    min_free_disk_gb: NonNegativeFloat = 5.0
    """The `capacity_limits` check warns when the data directory's disk has less free space."""
    min_free_disk_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.10
    max_growth_mb_per_month: NonNegativeFloat | None = 1024.0
    """Warn when the warehouse grows faster (over the last 30 days); null = no growth limit."""


class RunRetentionConfig(_Strict):
    keep_days: PositiveInt = 90
    """`prune_run_history_job` deletes finished Dagster runs older than this ..."""
    keep_failed_days: PositiveInt = 365
    """... and failed runs older than this (they are what a post-mortem reads)."""


class MaintenanceConfig(_Strict):
    backup_keep_days: PositiveInt = 30
    """Backups (pg_dump files or SQLite copies) older than this are deleted; the newest stays."""
    capacity: CapacityConfig = CapacityConfig()
    run_retention: RunRetentionConfig = RunRetentionConfig()


class AutoIndexConfig(_Strict):
    universe: UniverseConfig = UniverseConfig()
    notifications: NotifierSettings = NotifierSettings()
    quality: QualityConfig = QualityConfig()
    providers: ProvidersConfig = ProvidersConfig()
    storage: StorageConfig = StorageConfig()
    prices: PricesConfig = PricesConfig()
    news: NewsConfig = NewsConfig()
    maintenance: MaintenanceConfig = MaintenanceConfig()
    strategies: dict[str, StrategyParams] = Field(default_factory=lambda: {"default": StrategyParams()})

    # Where the file was read from: relative paths resolve against it. Not a YAML key.
    base_dir: Path = Field(default=PACKAGE_DATA, exclude=True)

    @field_validator("strategies")
    @classmethod
    def _at_least_one_strategy(cls, value: dict[str, StrategyParams]) -> dict[str, StrategyParams]:
        if not value:
            raise ValueError("at least one strategy is required")
        return value

    def resolve(self, path: str | None) -> Path | None:
        if path is None:
            return None
        p = Path(os.path.expanduser(path))
        return p if p.is_absolute() else (self.base_dir / p)

    @cached_property
    def universe_frame(self) -> pd.DataFrame:
        return load_universe(self)

    @property
    def symbols(self) -> list[str]:
        return self.universe_frame["symbol"].tolist()

    @property
    def data_dir(self) -> Path:
        return Path(os.environ.get(DATA_DIR_ENV_VAR) or self.storage.data_dir).expanduser().resolve()

    def database_url(self) -> str:
        """The warehouse URL: $AUTOINDEX_DATABASE_URL, else storage.database_url, else the
        embedded SQLite file under the data directory."""
        url = os.environ.get(DATABASE_URL_ENV_VAR) or self.storage.database_url
        return url or f"sqlite:///{self.data_dir / 'warehouse.sqlite'}"


def _universe_path(config: AutoIndexConfig) -> Path:
    path = config.resolve(config.universe.file)
    assert path is not None
    if not path.exists() and (PACKAGE_DATA / config.universe.file).exists():
        return PACKAGE_DATA / config.universe.file
    return path


def load_universe(config: AutoIndexConfig) -> pd.DataFrame:
    """The universe file as a frame (symbol, name, asset_class, sector, is_benchmark)."""
    path = _universe_path(config)
    if not path.exists():
        raise ConfigError(f"universe.file: {path} does not exist")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in UNIVERSE_COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigError(f"universe.file: {path} is missing column(s) {', '.join(missing)}")
    frame = frame.loc[:, list(UNIVERSE_COLUMNS)]
    frame["symbol"] = frame["symbol"].str.strip().str.upper()
    bad_class = frame[~frame["asset_class"].isin(ASSET_CLASSES)]
    if len(bad_class):
        first = bad_class.index[0]
        raise ConfigError(
            f"universe.file: {path} line {first + 2}, column 'asset_class': "
            f"{bad_class.iloc[0]['asset_class']!r} is not one of {', '.join(ASSET_CLASSES)}"
        )
    dupes = frame[frame["symbol"].duplicated(keep=False)]
    if len(dupes):
        raise ConfigError(f"universe.file: {path} lists {sorted(set(dupes['symbol']))} more than once")
    if config.universe.symbols is not None:
        wanted = [s.upper() for s in config.universe.symbols]
        unknown = sorted(set(wanted) - set(frame["symbol"]))
        if unknown:
            raise ConfigError(f"universe.symbols: {unknown} are not in {path}")
        keep = set(wanted) | {config.universe.benchmark.upper()}
        frame = frame[frame["symbol"].isin(keep)]
    benchmark = config.universe.benchmark.upper()
    if benchmark not in set(frame["symbol"]):
        raise ConfigError(f"universe.benchmark: {benchmark!r} is not in {path}")
    frame["is_benchmark"] = frame["symbol"] == benchmark
    return frame.sort_values("symbol").reset_index(drop=True)


def _format_validation_error(path: Path, error: ValidationError) -> str:
    lines = [f"invalid configuration in {path}:"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        msg = item["msg"]
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, StrategyParamsError):
            # The parameters validate themselves; name each offending key under the strategy.
            for param, param_msg in cause.errors:
                lines.append(f"  {key}: Value error, {param_msg}" if param is None else f"  {key}.{param}: {param_msg}")
            continue
        if item["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            msg = "unknown key (check the spelling; see README 'Configuration reference')"
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(CONFIG_ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    local = Path.cwd() / "autoindex.yaml"
    return local.resolve() if local.exists() else DEFAULT_CONFIG_PATH


# What load_config validated in this process: resolved path -> (the file's bytes, the universe
# file's path and bytes, the config). A Dagster run resolves SettingsResource once per op, each a
# full parse and validation (~50 ms with the universe file, 578 calls in a simulated fortnight);
# an unchanged pair of files gives a copy of the config validated before.
_LOADED: dict[Path, tuple[bytes, Path, bytes, AutoIndexConfig]] = {}


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def load_config(path: str | os.PathLike[str] | None = None) -> AutoIndexConfig:
    """Read and validate the configuration; raises ConfigError naming the file and key.

    Validated once per process for the same contents: a call finding the file and its universe
    file byte for byte as last validated returns a copy of that config (compared by content,
    not modification time, so a file rewritten within the clock's resolution is read again)."""
    resolved = config_path(path)
    if not resolved.exists():
        raise ConfigError(f"configuration file {resolved} does not exist")
    text = _read_bytes(resolved)
    kept = _LOADED.get(resolved)
    if kept is not None and text is not None and kept[0] == text and _read_bytes(kept[1]) == kept[2]:
        return kept[3].model_copy(deep=True)
    config = _validate(resolved, text)
    universe = _universe_path(config)
    universe_bytes = _read_bytes(universe)
    config.universe_frame  # noqa: B018 - validate the universe file now, not mid-run
    if text is not None and universe_bytes is not None:
        _LOADED[resolved] = (text, universe, universe_bytes, config.model_copy(deep=True))
    return config


def _validate(resolved: Path, text: bytes | None) -> AutoIndexConfig:
    try:
        raw = yaml.safe_load(resolved.read_text() if text is None else text.decode()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{resolved} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{resolved}: the top level must be a mapping of keys")
    if "base_dir" in raw:
        raise ConfigError(f"invalid configuration in {resolved}:\n  base_dir: unknown key")
    try:
        return AutoIndexConfig.model_validate({**raw, "base_dir": resolved.parent})
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(resolved, exc)) from None
