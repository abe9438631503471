"""A run the CLI executes in process is in the UI's Overview timeline: the webserver's GraphQL
(the workspace.yaml code location served by a real code server) answers the timeline's own
queries with the run under the location and job it belongs to, on both backends."""

import tomllib

import dagster as dg
import pandas as pd
import yaml
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

from autoindex_pipeline.cli.runner import CODE_LOCATION_NAME, run_prices_job
from autoindex_pipeline.config import CONFIG_ENV_VAR
from autoindex_pipeline.defs.prices.definitions import PRICES_JOB
from autoindex_pipeline_tests.integration.conftest import REPO_ROOT

# The fields the UI's CompletedRunTimelineQuery reads (ui-core/src/runs/useRunsForTimeline.tsx,
# RunTimelineFragment and RunTimeFragment): a run is drawn only with a repositoryOrigin and a
# startTime, in the row of (repositoryName, repositoryLocationName, pipelineName).
COMPLETED_RUN_TIMELINE_QUERY = """
query CompletedRunTimelineQuery($completedFilter: RunsFilter!, $limit: Int!, $cursor: String) {
  completed: runsOrError(filter: $completedFilter, limit: $limit, cursor: $cursor) {
    __typename
    ... on Runs {
      results {
        id pipelineName externalJobSource status creationTime startTime endTime updateTime
        tags { key value }
        repositoryOrigin { id repositoryName repositoryLocationName }
      }
    }
  }
}
"""

# The timeline's FutureTicksQuery: the workspace's locations, repositories and jobs it lays rows out by.
WORKSPACE_JOBS_QUERY = """
query FutureTicksQuery {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { name repositories { name pipelines { name isJob } } }
          ... on PythonError { message }
        }
      }
    }
  }
}
"""


def test_the_location_name_is_the_workspaces():
    workspaces = [REPO_ROOT / "workspace.yaml", REPO_ROOT / "deploy" / "workspace.grpc.yaml"]
    names = {entry[kind]["location_name"] for path in workspaces
             for entry in yaml.safe_load(path.read_text())["load_from"] for kind in entry}
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert names == {pyproject["tool"]["dagster"]["code_location_name"]} == {CODE_LOCATION_NAME}


def test_a_cli_run_is_in_the_overview_timeline_of_its_job_and_location(stack, monkeypatch):
    path, config, instance = stack
    result = run_prices_job(config, path, pd.Timestamp("2025-06-06"), pd.Timestamp("2025-06-06"), instance=instance)
    assert result.success
    record = instance.get_run_record_by_id(result.run_id)
    assert record.dagster_run.tags["dagster/code_location"] == CODE_LOCATION_NAME
    # The job's Runs tab filters by the repository label the origin gives the run.
    job_runs = instance.get_run_ids(dg.RunsFilter(
        job_name=PRICES_JOB, tags={".dagster/repository": f"__repository__@{CODE_LOCATION_NAME}"}))
    assert result.run_id in job_runs

    # The code server loads the location as `dagster dev` does, with this test's config.
    monkeypatch.setenv(CONFIG_ENV_VAR, path)
    with define_out_of_process_context(str(REPO_ROOT / "workspace.yaml"), None, instance) as context:
        updated = record.update_timestamp.timestamp()
        completed = execute_dagster_graphql(context, COMPLETED_RUN_TIMELINE_QUERY, variables={
            "completedFilter": {"statuses": ["SUCCESS", "FAILURE", "CANCELED"],
                                "updatedAfter": updated - 60, "updatedBefore": updated + 60},
            "limit": 500,
        }).data["completed"]
        workspace = execute_dagster_graphql(context, WORKSPACE_JOBS_QUERY).data["workspaceOrError"]

    assert completed["__typename"] == "Runs"
    [run] = [r for r in completed["results"] if r["id"] == result.run_id]
    assert run["startTime"] is not None and run["status"] == "SUCCESS"
    origin = run["repositoryOrigin"]
    assert origin is not None, "the timeline skips a run without a repositoryOrigin"
    served = {(entry["name"], repository["name"]): {job["name"] for job in repository["pipelines"]}
              for entry in workspace["locationEntries"]
              for repository in entry["locationOrLoadError"]["repositories"]}
    # The timeline's row key: the job in the repository of the location the workspace serves.
    assert run["pipelineName"] == PRICES_JOB
    assert PRICES_JOB in served[(origin["repositoryLocationName"], origin["repositoryName"])]
    assert origin["repositoryLocationName"] == CODE_LOCATION_NAME
