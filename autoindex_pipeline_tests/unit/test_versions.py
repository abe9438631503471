from importlib.metadata import version


def test_dagster_family_is_one_release():
    core = version("dagster")
    assert version("dagster-webserver") == core
    assert version("dagster-graphql") == core
    # Integration libraries are numbered 0.(minor+16).patch alongside core 1.minor.patch.
    major, minor, patch = core.split(".")[:3]
    assert version("dagster-postgres") == f"0.{int(minor) + 16}.{patch}"
