"""The quality report draws its weekly trend once: the page is given the image the UI shows too,
and is then the same page as when it draws the trend itself."""

from autoindex_pipeline.reporting import charts
from autoindex_pipeline.reporting import quality as report
from autoindex_pipeline_tests.unit.test_quality_report import built  # noqa: F401 - the fixture


def test_the_page_with_the_trend_drawn_before_is_the_page_drawing_it(built, monkeypatch):  # noqa: F811
    args = (built["scores"], built["grid"], built["outcomes"], built["trend"], "Quality")
    drawing_it = report.render_html(*args, worst_n=10)
    image = charts.trend_png(built["trend"])
    drawn = []
    monkeypatch.setattr(report, "trend_png", lambda *a, **k: drawn.append(1) or image)
    assert report.render_html(*args, worst_n=10, trend_image=image) == drawing_it
    assert drawn == []
