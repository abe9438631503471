"""The deployment files, checked without a Docker engine: docker-compose.yml parsed (services,
env, ports, healthchecks, volumes), every command it runs parsed by the real CLI it names in
this environment, every variable dagster.yaml / the workspace / the compose file read provided by
.env.example, and the Dockerfile consistent with them."""

from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
import warnings

import click
import pytest
import yaml

from autoindex_pipeline_tests.e2e import REPO_ROOT

COMPOSE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
DOCKERFILE = REPO_ROOT / "Dockerfile"
WORKSPACE = REPO_ROOT / "deploy" / "workspace.grpc.yaml"
DAGSTER_SERVICES = ("code-server", "webserver", "daemon")
CELERY_SERVICES = ("rabbitmq", "redis", "celery-worker")
APP_DIR = "/opt/dagster/app"  # the image's WORKDIR: relative paths in commands resolve here

# Console script -> the click command it runs (parsed with click, never executed).
CLICK_COMMANDS = {
    "dagster": "dagster._cli:cli",
    "dagster-webserver": "dagster_webserver.cli:cli",
    "dagster-daemon": "dagster._daemon.cli:cli",
    "celery": "celery.bin.celery:celery",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _env_refs(node) -> set[str]:
    """Every `{env: NAME}` in a Dagster YAML document."""
    refs: set[str] = set()
    if isinstance(node, dict):
        if set(node) == {"env"}:
            refs.add(node["env"])
        for value in node.values():
            refs |= _env_refs(value)
    elif isinstance(node, list):
        for value in node:
            refs |= _env_refs(value)
    return refs


def _load_click(target: str) -> click.Command:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _parse(command: click.Command, name: str, args: list[str], parent: click.Context | None = None,
           **extra: object) -> click.Context:
    """Parse ``args`` the way the CLI would (options, types, subcommands) without running it."""
    ctx = command.make_context(name, list(args), parent=parent, **extra)
    if isinstance(command, click.Group):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            rest = [*ctx.protected_args, *ctx.args]
        sub_name, sub, sub_args = command.resolve_command(ctx, rest)
        return _parse(sub, sub_name, sub_args, ctx)
    return ctx


def _check_command(argv: list[str]) -> click.Context:
    assert argv[0] in CLICK_COMMANDS, f"{argv[0]} is not a console script this test knows"
    from importlib.metadata import entry_points

    assert entry_points(group="console_scripts", name=argv[0]), f"console script {argv[0]} is not installed"
    extra = {}
    if argv[0] == "celery":
        # Celery's worker options read defaults from the app (its group callback sets ctx.obj).
        from celery.app.utils import find_app
        from celery.bin.base import CLIContext

        extra["obj"] = CLIContext(app=find_app(argv[argv.index("-A") + 1]), no_color=True, workdir=None, quiet=True)
    ctx = _parse(_load_click(CLICK_COMMANDS[argv[0]]), argv[0], argv[1:], **extra)
    # Modules the command imports, and files it reads, exist.
    for flag in ("-m", "-A"):
        if flag in argv:
            module = argv[argv.index(flag) + 1]
            assert importlib.util.find_spec(module) is not None, f"{argv[0]}: module {module} is not importable"
    if "-w" in argv:
        workspace = argv[argv.index("-w") + 1]
        assert (REPO_ROOT / workspace).is_file(), f"workspace {workspace} (relative to {APP_DIR}) is not in the repo"
    return ctx


def test_the_production_services_are_defined(compose):
    services = compose["services"]
    assert {"postgres", *DAGSTER_SERVICES, *CELERY_SERVICES} <= set(services)
    # The scale-out services start only with `--profile celery`; the core topology without it.
    for name in CELERY_SERVICES:
        assert services[name]["profiles"] == ["celery"]
    for name in ("postgres", *DAGSTER_SERVICES):
        assert "profiles" not in services[name]


def test_every_dagster_process_runs_the_one_image_with_secrets_from_env_file(compose):
    services = compose["services"]
    images = {services[name]["image"] for name in (*DAGSTER_SERVICES, "celery-worker")}
    assert images == {"autoindex_pipeline:latest"}
    for name in (*DAGSTER_SERVICES, "celery-worker", "postgres"):
        assert services[name]["env_file"] in (".env", [".env"]), name
        assert services[name]["build"]["dockerfile"] == "Dockerfile" if name != "postgres" else True
    # No value written into the compose file: only ${VAR} references to .env.
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            assert re.fullmatch(r"\$\{[A-Z0-9_]+(:-[^}]*)?\}", str(value)), f"{name}.{key} holds a literal value"


def test_ports_and_the_code_server_address(compose, env_example):
    services = compose["services"]
    assert "3000:3000" in services["webserver"]["ports"]
    assert "4000" in [str(p) for p in services["code-server"]["expose"]]
    assert "ports" not in services["code-server"]  # reached only inside the compose network
    assert env_example["DAGSTER_CODE_SERVER_HOST"] == "code-server"
    assert env_example["DAGSTER_CODE_SERVER_PORT"] == "4000"
    # Dagster's storage and the warehouse are on the postgres service, with its credentials.
    assert env_example["DAGSTER_PG_HOST"] == "postgres"
    assert env_example["DAGSTER_PG_USERNAME"] == env_example["POSTGRES_USER"]
    assert env_example["DAGSTER_PG_PASSWORD"] == env_example["POSTGRES_PASSWORD"]
    assert env_example["DAGSTER_PG_DB"] == env_example["POSTGRES_DB"]
    import sqlalchemy as sa

    warehouse = sa.engine.make_url(env_example["AUTOINDEX_DATABASE_URL"])
    assert (warehouse.host, warehouse.username, warehouse.database) == (
        "postgres", env_example["POSTGRES_USER"], env_example["AUTOINDEX_WAREHOUSE_DB"])
    assert warehouse.database != env_example["DAGSTER_PG_DB"]  # both use an alembic_version table


def test_healthchecks_and_start_order(compose):
    services = compose["services"]
    pg_check = services["postgres"]["healthcheck"]["test"]
    assert pg_check[0] == "CMD-SHELL" and pg_check[1].startswith("pg_isready")
    assert services["code-server"]["healthcheck"]["test"] == ["CMD", "dagster", "api", "grpc-health-check", "-p", "4000"]
    for name in (*DAGSTER_SERVICES, *CELERY_SERVICES):
        assert services[name]["healthcheck"]["test"], name
    for name in ("webserver", "daemon"):
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"}, "code-server": {"condition": "service_healthy"}}
    assert services["code-server"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_postgres_keeps_its_data_in_a_volume_and_creates_the_warehouse_db(compose, env_example):
    postgres = compose["services"]["postgres"]
    assert "postgres_data:/var/lib/postgresql/data" in postgres["volumes"]
    assert "postgres_data" in compose["volumes"]
    for name in DAGSTER_SERVICES:
        for volume in compose["services"][name]["volumes"]:
            assert volume.split(":")[0] in compose["volumes"], volume
    init = postgres["configs"][0]
    assert init["target"].startswith("/docker-entrypoint-initdb.d/")
    content = compose["configs"][init["source"]]["content"]
    assert "CREATE DATABASE ${AUTOINDEX_WAREHOUSE_DB" in content


@pytest.mark.parametrize("service", [*DAGSTER_SERVICES, "celery-worker"])
def test_the_commands_exist_and_parse_in_this_environment(compose, service):
    spec = compose["services"][service]
    ctx = _check_command(spec["command"])
    if service == "code-server":
        assert ctx.params["module_name"] == "autoindex_pipeline.definitions"
        assert ctx.params["port"] == 4000 and ctx.params["host"] == "0.0.0.0"
        assert ctx.params["location_name"] == "autoindex_pipeline"
    health = spec["healthcheck"]["test"]
    if health[0] == "CMD" and health[1] != "python":
        _check_command(health[1:])
    elif health[0] == "CMD-SHELL":
        _check_command(shlex.split(health[1]))


def test_every_variable_read_is_in_env_example(compose, env_example):
    dagster_yaml = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    workspace = yaml.safe_load(WORKSPACE.read_text())
    needed = _env_refs(dagster_yaml) | _env_refs(workspace)
    assert {"DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_HOST", "DAGSTER_PG_DB", "DAGSTER_PG_PORT",
            "DAGSTER_COMPUTE_LOG_DIR"} <= needed
    # ${VAR} interpolations in the compose file come from .env too.
    needed |= set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE.read_text()))
    # What the pipeline reads (secrets, the warehouse, the executor) and the notifier's variables.
    from autoindex_pipeline.config import DATABASE_URL_ENV_VAR
    from autoindex_pipeline.providers.registry import SECRET_ENV_VARS

    needed |= {DATABASE_URL_ENV_VAR, *SECRET_ENV_VARS.values(), "AUTOINDEX_EXECUTOR", "AUTOINDEX_CELERY_BROKER",
               "AUTOINDEX_CELERY_BACKEND", "AUTOINDEX_SLACK_WEBHOOK_URL"}
    missing = sorted(needed - set(env_example))
    assert not missing, f".env.example lacks {missing}"
    # Placeholders only: every secret says change-me.
    for key in ("POSTGRES_PASSWORD", "DAGSTER_PG_PASSWORD", "TWELVEDATA_API_KEY", "MARKETAUX_API_TOKEN"):
        assert env_example[key] == "change-me"


def test_the_shipped_instance_and_workspace_validate_with_the_example_env(env_example, monkeypatch, tmp_path):
    from dagster._core.instance.config import dagster_instance_config
    from dagster._core.workspace.config_schema import process_workspace_config

    for key, value in env_example.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    result = process_workspace_config(yaml.safe_load(WORKSPACE.read_text()))
    assert result.success, result.errors
    server = result.value["load_from"][0]["grpc_server"]
    assert (server["host"], server["port"], server["location_name"]) == ("code-server", 4000, "autoindex_pipeline")


def test_dockerfile_installs_the_project_and_ships_the_instance(compose):
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert re.search(r'^RUN pip install "\.\[\$\{EXTRAS\}\]"', text, re.M)
    assert "ARG EXTRAS=celery" in text
    assert re.search(r"^COPY dagster\.yaml \$\{DAGSTER_HOME\}/dagster\.yaml$", text, re.M)
    assert re.search(rf"^WORKDIR {APP_DIR}$", text, re.M)
    # Every COPY source exists and is not excluded by .dockerignore.
    ignored = [line.strip() for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for match in re.finditer(r"^COPY (.+) \S+$", text, re.M):
        for source in match.group(1).split():
            assert (REPO_ROOT / source).exists(), source
            assert source not in ignored, f"{source} is copied but .dockerignore excludes it"
    # The default command is the compose code server's.
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M).group(1)
    assert yaml.safe_load(cmd) == compose["services"]["code-server"]["command"]
    # The `celery` extra exists and pins dagster-celery to the Dagster family.
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    dagster_pin = next(d for d in project["dependencies"] if d.startswith("dagster-postgres=="))
    celery_pin = next(d for d in project["optional-dependencies"]["celery"] if d.startswith("dagster-celery"))
    assert celery_pin.split("==")[1] == dagster_pin.split("==")[1]
