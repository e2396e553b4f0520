from __future__ import annotations

from pathlib import Path

from sample_app import create_app


def test_sample_app_answers_its_health_endpoints_on_sqlite(tmp_path: Path) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'sample.db'}"})
    client = app.test_client()

    report = client.get("/healthz")
    assert report.status_code == 200
    outputs = {result["checker"]: result["output"] for result in report.json["results"]}
    assert outputs["database"] == "sqlite database ok"
    assert client.get("/healthz/live").status_code == 200
    assert client.get("/healthz/ready").status_code == 200
